"""Server-sent events on the wire: ``event:`` line, one-line JSON ``data:``, ``\\n`` endings,
one write per event, ``sequence_number`` from 0, and ``data: [DONE]`` at the end.

``EventStreamResponse`` runs the producer in its own task and watches for the client going away:
on a disconnect the producer is cancelled (which stops the upstream call) and the response ends.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

import anyio
import orjson
from anyio.streams.memory import MemoryObjectSendStream
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from responses_gateway.events import Event

EventSink = Callable[[Event], None]
Producer = Callable[[EventSink], Awaitable[None]]
DONE = b"data: [DONE]\n\n"
HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


def event_json(event: Event, sequence_number: int) -> bytes:
    """An event's JSON, as on its ``data:`` line (and, byte for byte, a WebSocket frame)."""
    event["sequence_number"] = sequence_number
    return orjson.dumps(event)


def encode(event: Event, sequence_number: int) -> bytes:
    kind: str = event["type"]
    return b"event: " + kind.encode() + b"\ndata: " + event_json(event, sequence_number) + b"\n\n"


class SseEncoder:
    """The ``emit`` given to the orchestrator: encodes at once, so later mutations of live
    items cannot leak into an event already emitted."""

    def __init__(self, sink: MemoryObjectSendStream[bytes]) -> None:
        self._sink = sink
        self._next = 0

    def __call__(self, event: Event) -> None:
        self._sink.send_nowait(encode(event, self._next))
        self._next += 1


class EventStreamResponse(Response):
    media_type = "text/event-stream"

    def __init__(self, producer: Producer) -> None:
        super().__init__(status_code=200)
        self._producer = producer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Unbounded: events are small and a response's output is bounded; the producer must never
        # block on a slow reader while it holds an upstream stream open.
        sink, source = anyio.create_memory_object_stream[bytes](math.inf)
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        async with anyio.create_task_group() as group:

            async def produce() -> None:
                with sink:
                    await self._producer(SseEncoder(sink))

            async def watch_disconnect() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()

            group.start_soon(produce)
            group.start_soon(watch_disconnect)
            async with source:
                async for chunk in source:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": DONE, "more_body": False})
            group.cancel_scope.cancel()
