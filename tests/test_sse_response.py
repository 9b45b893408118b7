"""``EventStreamResponse`` on a bare ASGI channel: what reaches the wire, and how the producer is
stopped when the client leaves or a write fails."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import pytest
from starlette.types import Message

from responses_gateway.sse import DONE, EventSink, EventStreamResponse, Producing, SseEncoder

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Channel:
    """The ASGI ``receive``/``send`` pair of one request; ``leave()`` is the client going away."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.sent: list[Message] = []
        self.writers: list[asyncio.Task[Any] | None] = []  # the task of each send
        self.fail_on = fail_on
        self._gone = anyio.Event()

    async def receive(self) -> Message:
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if self.fail_on is not None and len(self.sent) == self.fail_on:
            raise RuntimeError("the write failed")
        self.sent.append(message)
        self.writers.append(asyncio.current_task())

    def leave(self) -> None:
        self._gone.set()

    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent[1:])


async def _run(response: EventStreamResponse, channel: Channel) -> None:
    await response({"type": "http"}, channel.receive, channel.send)


async def test_events_then_done_and_the_head_first() -> None:
    async def produce(emit: EventSink) -> None:
        emit({"type": "response.created", "n": 1})
        await anyio.sleep(0.01)
        emit({"type": "response.completed", "n": 2})

    channel = Channel()
    await _run(EventStreamResponse(produce), channel)
    assert channel.sent[0]["type"] == "http.response.start"
    assert channel.body() == (
        b'event: response.created\ndata: {"type":"response.created","n":1,"sequence_number":0}'
        b'\n\nevent: response.completed\ndata: {"type":"response.completed","n":2,'
        b'"sequence_number":1}\n\n' + DONE
    )
    assert channel.sent[-1]["more_body"] is False
    assert all(m["more_body"] for m in channel.sent[1:-1])


async def test_a_disconnect_cancels_the_producer_and_sends_no_done() -> None:
    channel = Channel()
    cleaned = anyio.Event()

    async def produce(emit: EventSink) -> None:
        emit({"type": "response.created"})
        try:
            channel.leave()
            await anyio.sleep_forever()
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.sleep(0.01)  # like the shielded save of a cancelled response
                cleaned.set()

    with anyio.fail_after(5):
        await _run(EventStreamResponse(produce), channel)
    assert cleaned.is_set()
    assert DONE not in channel.body()


async def test_a_cut_response_leaves_its_task_uncancelled() -> None:
    """The producer's cancel is taken back: the request's task goes on as if never cancelled."""
    channel = Channel()

    async def produce(emit: EventSink) -> None:
        emit({"type": "response.created"})
        channel.leave()
        await anyio.sleep_forever()

    with anyio.fail_after(5):
        await _run(EventStreamResponse(produce), channel)
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0
    await asyncio.sleep(0)  # not cancelled later either


async def test_a_producer_that_swallows_the_cancel_still_ends_the_response() -> None:
    channel = Channel()

    async def produce(emit: EventSink) -> None:
        emit({"type": "response.created"})
        channel.leave()
        try:
            await anyio.sleep_forever()
        except asyncio.CancelledError:
            return  # wrong, but it must not leave the task cancelled nor send [DONE]

    with anyio.fail_after(5):
        await _run(EventStreamResponse(produce), channel)
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0
    assert DONE not in channel.body()


async def test_another_cancel_of_the_task_is_passed_on_and_spares_the_save() -> None:
    """A shutdown's cancel of the request's task, then the client leaving: the cut does not
    cancel again (it would break into the shielded save), and the shutdown's cancel goes on."""
    channel = Channel()
    saved = anyio.Event()
    task = asyncio.current_task()
    assert task is not None

    async def produce(emit: EventSink) -> None:
        emit({"type": "response.created"})
        asyncio.get_running_loop().call_soon(task.cancel)  # as the lifecycle's grace does
        try:
            await anyio.sleep_forever()
        finally:
            channel.leave()
            with anyio.CancelScope(shield=True):
                await anyio.sleep(0.05)  # like the shielded save of a cancelled response
                saved.set()

    with anyio.fail_after(5), pytest.raises(asyncio.CancelledError):
        await _run(EventStreamResponse(produce), channel)
    assert saved.is_set()
    assert DONE not in channel.body()
    assert task.uncancel() == 0  # the shutdown's cancel, and only it, was left


async def test_a_cancel_after_the_producer_ended_does_nothing() -> None:
    """The watcher may see the client leave while the sender still writes the last events."""
    task = asyncio.get_running_loop().create_task(asyncio.sleep(0.01))
    producing = Producing(task)
    assert producing.end() is False
    producing.cancel()
    await task
    assert not task.cancelled() and not producing.cancel_called


async def test_a_failed_write_stops_the_producer_and_is_raised() -> None:
    stopped: list[Any] = []

    async def produce(emit: EventSink) -> None:
        emit({"type": "response.created"})
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            stopped.append(True)
            raise

    channel = Channel(fail_on=1)  # the head goes out, the first body write fails
    with anyio.fail_after(5), pytest.raises(RuntimeError, match="the write failed"):
        await _run(EventStreamResponse(produce), channel)
    assert stopped == [True]


async def test_a_crashed_producer_is_raised_without_done() -> None:
    async def produce(emit: EventSink) -> None:
        emit({"type": "response.created"})
        await anyio.sleep(0.01)
        raise ValueError("a bug")

    channel = Channel()
    with anyio.fail_after(5), pytest.raises(ValueError, match="a bug"):
        await _run(EventStreamResponse(produce), channel)
    assert DONE not in channel.body()


async def test_a_flush_writes_the_events_from_the_producer_itself() -> None:
    """The first events of a round go out from the producer's task, before it goes on."""
    channel = Channel()
    seen: list[bytes] = []
    producer: list[asyncio.Task[Any] | None] = []

    async def produce(emit: EventSink) -> None:
        assert isinstance(emit, SseEncoder)
        producer.append(asyncio.current_task())
        await anyio.sleep(0.01)  # the head is out
        emit({"type": "response.output_text.delta", "delta": "Hi"})
        await emit.flush()
        seen.append(channel.body())  # written, though the producer has not let the sender run
        emit({"type": "response.completed"})

    await _run(EventStreamResponse(produce), channel)
    assert seen == [
        b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
        b'"delta":"Hi","sequence_number":0}\n\n'
    ]
    assert channel.writers[1] is producer[0]  # the delta's message
    assert channel.writers[0] is not producer[0]  # the head: the sender's
    assert channel.body().endswith(b'"sequence_number":1}\n\n' + DONE)


async def test_a_flush_before_the_head_leaves_the_events_to_the_sender() -> None:
    channel = Channel()

    async def produce(emit: EventSink) -> None:
        assert isinstance(emit, SseEncoder)
        emit({"type": "response.created"})
        await emit.flush()  # the sender has not sent the head yet: one pass of the loop
        emit({"type": "response.completed"})

    await _run(EventStreamResponse(produce), channel)
    assert channel.sent[0]["type"] == "http.response.start"
    assert channel.body().count(b"event: ") == 2 and channel.body().endswith(DONE)


async def test_a_failed_flush_stops_the_producer_and_is_raised() -> None:
    stopped: list[Any] = []

    async def produce(emit: EventSink) -> None:
        assert isinstance(emit, SseEncoder)
        await anyio.sleep(0.01)
        emit({"type": "response.output_text.delta"})
        try:
            await emit.flush()
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            stopped.append(True)
            raise

    channel = Channel(fail_on=1)  # the head goes out, the producer's write fails
    with anyio.fail_after(5), pytest.raises(RuntimeError, match="the write failed"):
        await _run(EventStreamResponse(produce), channel)
    assert stopped == [True]
    assert DONE not in channel.body()


async def test_a_flush_after_64_kib_leaves_the_write_to_the_sender() -> None:
    """Past the transport's high-water mark a send may wait for the reader: not the producer's."""
    channel = Channel()
    producer: list[asyncio.Task[Any] | None] = []

    async def produce(emit: EventSink) -> None:
        assert isinstance(emit, SseEncoder)
        producer.append(asyncio.current_task())
        emit({"type": "response.output_text.delta", "delta": "x" * 70_000})
        await anyio.sleep(0.01)  # the sender writes it
        emit({"type": "response.output_text.delta", "delta": "y"})
        await emit.flush()

    await _run(EventStreamResponse(produce), channel)
    assert len(channel.sent) == 4  # head, the large delta, the small one, [DONE]
    assert producer[0] not in channel.writers
