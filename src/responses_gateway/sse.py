"""Server-sent events on the wire: ``event:`` line, one-line JSON ``data:``, ``\\n`` endings,
``sequence_number`` from 0, and ``data: [DONE]`` at the end.

``EventStreamResponse`` runs the producer in the request's own task, a sender beside it and a
watcher for the client going away: on a disconnect the producer is cancelled (which stops the
upstream call) and the response ends. The sender writes every event waiting as one body message;
the producer writes a round's first events itself (``SseEncoder.flush``).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable

import anyio
import orjson
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from responses_gateway.events import Event
from responses_gateway.transport.outbox import Outbox

EventSink = Callable[[Event], None]
Producer = Callable[[EventSink], Awaitable[None]]
DONE = b"data: [DONE]\n\n"
_LARGE = 16384  # an event's JSON from which it is put in three parts (see SseEncoder)
# uvloop's (and asyncio's) write high-water mark: a transport that took no more than this of a
# response has not paused its writer for it, so a send does not wait (``SseEncoder.flush``).
_NEVER_PAUSED = 64 * 1024
HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


def event_json(event: Event, sequence_number: int) -> bytes:
    """An event's JSON, as on its ``data:`` line (and, byte for byte, a WebSocket frame)."""
    event["sequence_number"] = sequence_number
    return orjson.dumps(event)


class Producing:
    """Stops the producer, which runs in the request's own task: one ``Task.cancel``, whose
    ``CancelledError`` the response takes back when it ends (``Task.uncancel``). In place of an
    anyio ``CancelScope``: entering one cost 17 µs of the ~215 µs before a stream's upstream
    call (clock marks, p50 of 2,000; 3.5 µs in a warm loop), and work there costs the first delta
    more than itself. One cancel is enough: the producer's awaits are asyncio's, and anyio task
    groups inside it pass a native cancel on to their tasks."""

    __slots__ = ("_ended", "_sent", "_task", "cancel_called")

    def __init__(self, task: asyncio.Task[object]) -> None:
        self._task = task
        self._ended = self._sent = False
        self.cancel_called = False  # the response is cut: no [DONE]

    def cancel(self) -> None:
        """Cut the response once. The task is cancelled unless the producer has ended (the
        sender may still be writing) or is being cancelled already (a shutdown): a second
        cancel would break into the shielded save of what was finished."""
        if self.cancel_called or self._ended:
            return
        self.cancel_called = True
        if not self._task.cancelling():
            self._sent = True
            self._task.cancel()

    def end(self) -> bool:
        """The producer ended: take back this cancel, if one was sent. True when a
        ``CancelledError`` that ended it was this cancel alone, not also another's."""
        self._ended = True
        return self._sent and self._task.uncancel() == 0


class _Wire:
    """The response's way to the client, which the sender and the producer's ``flush`` share:
    whoever writes marks it ``busy`` so the other never writes in between."""

    __slots__ = ("busy", "failure", "outbox", "producing", "send", "started", "written")

    def __init__(self, outbox: Outbox, send: Send, producing: Producing) -> None:
        self.outbox = outbox
        self.send = send
        self.producing = producing
        self.started = self.busy = False
        self.written = 0  # body bytes sent
        self.failure: BaseException | None = None

    async def write(self, message: Message) -> None:
        self.busy = True
        try:
            await self.send(message)
        finally:
            self.busy = False

    async def write_waiting(self) -> None:
        """Every event waiting, if any (the other writer may have taken them)."""
        if body := self.outbox.take():
            self.written += len(body)
            await self.write({"type": "http.response.body", "body": body, "more_body": True})


class SseEncoder:
    """The ``emit`` given to the orchestrator: encodes at once, so later mutations of live
    items cannot leak into an event already emitted."""

    def __init__(self, wire: _Wire, first: int = 0) -> None:
        self._put = wire.outbox.put
        self._next = first
        self._wire = wire

    async def flush(self) -> None:
        """Write the events emitted so far from the producer's own task, when the head is out,
        the sender is not writing and the write cannot wait for the reader; else one pass of the
        loop, in which the sender writes them. Measured (clock marks, p50 of 2,000 streams): the
        sender's wake-up put ~15 µs between a round's first events and their write."""
        wire = self._wire
        if not wire.started or wire.busy or wire.written > _NEVER_PAUSED:
            await anyio.lowlevel.checkpoint()
            return
        try:
            await wire.write_waiting()
        except Exception as exc:  # as when the sender's write fails: production stops
            wire.failure = exc
            wire.producing.cancel()
            await anyio.lowlevel.checkpoint()

    def __call__(self, event: Event) -> None:
        # One %-format, not four concatenations: measured 7,200 -> 6,200 instructions an event.
        # A large event (a Response: ~76 KB for a Codex-sized request) is put as its head, its
        # JSON and its end instead, so its bytes are copied once less (callgrind counts every
        # byte a memcpy moves; the sender joins the frames anyway).
        kind = event["type"].encode()
        data = event_json(event, self._next)
        self._next += 1
        if len(data) < _LARGE:
            self._put(b"event: %b\ndata: %b\n\n" % (kind, data))
        else:
            self._put(b"event: %b\ndata: " % kind)
            self._put(data)
            self._put(b"\n\n")


def _never() -> None:
    raise AssertionError("an unbounded outbox never overflows")


class EventStreamResponse(Response):
    media_type = "text/event-stream"

    def __init__(self, producer: Producer, first_sequence: int = 0) -> None:
        """``first_sequence``: where numbering starts (a resumed stream goes on from there)."""
        super().__init__(status_code=200)
        self._producer = producer
        self._first = first_sequence

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Unbounded: events are small and a response's output is bounded; the producer must never
        # block on a slow reader while it holds an upstream stream open.
        outbox = Outbox(math.inf, on_overflow=_never)
        # The producer runs here, not in a task of its own: measured (in-process trace, min of
        # 1,700), that task put ~90 µs (a pass of the loop, the head's write) before the upstream
        # request. Sender and watcher are plain asyncio tasks beside it (``Producing`` cancels
        # it), not an anyio task group: measured (callgrind), ~300,000 fewer instructions a
        # response, with the same outcomes: a disconnect or a failed send cancels the producer
        # (its shielded save still runs) and no [DONE] is sent; a crash is re-raised.
        task = asyncio.current_task()
        assert task is not None
        producing = Producing(task)
        wire = _Wire(outbox, send, producing)
        sender = asyncio.get_running_loop().create_task(_send_events(wire, receive))
        try:
            await self._producer(SseEncoder(wire, self._first))
        except asyncio.CancelledError:
            if not producing.end():  # not (only) this response's own cancel: pass it on
                sender.cancel()
                raise
        except BaseException:
            producing.end()
            sender.cancel()
            raise
        else:
            producing.end()  # a producer that swallowed the cancel: taken back all the same
        finally:
            outbox.close()
        await _finish(sender, cut=producing.cancel_called)
        if wire.failure is not None:
            raise wire.failure


async def _finish(sender: asyncio.Task[None], *, cut: bool) -> None:
    """Let the sender write the rest and ``[DONE]`` (``cut``: the response was stopped; it may
    not), and raise what made it fail."""
    if cut:
        sender.cancel()
    try:
        await asyncio.wait((sender,))
    finally:
        sender.cancel()  # this task itself was cancelled meanwhile
    if not sender.cancelled() and (failure := sender.exception()) is not None:
        raise failure


async def _send_events(wire: _Wire, receive: Receive) -> None:
    """The head, then each time the sender runs, every event waiting as one message, ``[DONE]``
    with the last ones (measured: 5 messages a benchmark response instead of 30, each ~40,000
    instructions through the middleware plus a write). A send that fails stops the producer."""
    # First, one pass of the loop. Not for the upstream request's sake any more (aiohttp wrote its
    # body in a task of its own; our client writes it before the producer first waits, so it goes
    # before the head in 399 of 400 streams with or without the pass, and arrival to first delta,
    # min of 1,500 in an in-process trace, is 356-382 µs with it, 368-387 µs without: noise). It
    # stays because events then go out in fewer messages (2.69 a benchmark stream, 3.00 without)
    # and so costs less: measured (callgrind), streamed 2.65 M instructions against 2.68 M, codex
    # 14.82 M against 14.88 M. The watcher is started from here, off the way to the upstream.
    await asyncio.sleep(0)
    outbox, producing = wire.outbox, wire.producing
    watcher = asyncio.get_running_loop().create_task(_watch_disconnect(receive, producing))
    try:
        await wire.write({"type": "http.response.start", "status": 200, "headers": HEADERS})
        wire.started = True
        while True:
            await outbox.wait()
            if outbox.closed:
                break
            await wire.write_waiting()
        last = {"type": "http.response.body", "body": outbox.take(DONE), "more_body": False}
        await wire.write(last)
    except Exception:
        producing.cancel()
        raise
    finally:
        watcher.cancel()


async def _watch_disconnect(receive: Receive, producing: Producing) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    producing.cancel()
