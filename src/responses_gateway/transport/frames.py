"""Client events in, server frames out.

A ``response.create`` is a ``POST /v1/responses`` body plus ``type``, ``stream_id`` and
``generate``; it is validated by the same model (so the same 400 becomes the same ``error``).
A server frame is an event's JSON exactly as on its SSE ``data:`` line (``sse.event_json``),
with ``stream_id`` added at the end when the request had one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from responses_gateway.api.json import validation_error
from responses_gateway.errors import GatewayError, InvalidRequest
from responses_gateway.events import Event
from responses_gateway.schemas.request import CreateResponseRequest
from responses_gateway.sse import event_json
from responses_gateway.transport.outbox import Outbox

ClientEvent = dict[str, Any]


@dataclass
class Create:
    request: CreateResponseRequest
    generate: bool


def read_event(data: str | bytes | None) -> ClientEvent:
    """One client message as a JSON object with a string ``type``."""
    try:
        event = orjson.loads(data or b"")
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(
            f"We could not parse the JSON of your message: {exc}", code="invalid_json"
        ) from None
    if not isinstance(event, dict):
        raise InvalidRequest("Each message must be a JSON object.", code="invalid_json")
    if not isinstance(event.get("type"), str):
        raise InvalidRequest(
            "Missing required parameter: 'type'.", param="type", code="missing_required_parameter"
        )
    return event


def lane_of(event: ClientEvent) -> str | None:
    lane = event.get("stream_id")
    if lane is not None and not isinstance(lane, str):
        raise InvalidRequest("stream_id must be a string.", param="stream_id", code="invalid_type")
    return lane


def create_request(event: ClientEvent) -> Create:
    """The request a ``response.create`` carries: always streamed, never in the background."""
    body = {k: v for k, v in event.items() if k not in ("type", "stream_id", "generate")}
    generate = event.get("generate")
    if generate is not None and not isinstance(generate, bool):
        raise InvalidRequest("generate must be a boolean.", param="generate", code="invalid_type")
    if body.get("background"):
        raise InvalidRequest(
            "background is not supported over WebSocket; use POST /v1/responses.",
            param="background",
            code="unsupported_parameter",
        )
    if body.get("stream") is False:
        raise InvalidRequest(
            "Every response streams over WebSocket: do not send stream=false.",
            param="stream",
            code="unsupported_parameter",
        )
    body["stream"] = True
    try:
        request = CreateResponseRequest.model_validate(body)
    except ValidationError as exc:
        raise validation_error(exc) from None
    return Create(request, generate is not False)


def error_frame(exc: GatewayError, lane: str | None) -> bytes:
    """The SDK's ``ResponseErrorEvent`` (``code``, ``message``, ``param``, ``sequence_number``)
    and OpenAI's WebSocket error envelope (``status``, ``error``) in one event."""
    error = exc.envelope()["error"]
    error["code"] = error["code"] or error["type"]
    event: Event = {
        "type": "error",
        "code": error["code"],
        "message": error["message"],
        "param": error["param"],
        "sequence_number": 0,
        "status": exc.status_code,
        "error": error,
    }
    if lane is not None:
        event["stream_id"] = lane
    return orjson.dumps(event)


class FrameEncoder:
    """The ``emit`` of one response on a socket: encoded at once, like ``sse.SseEncoder``."""

    def __init__(self, outbox: Outbox, lane: str | None) -> None:
        self._outbox = outbox
        self._next = 0
        self._suffix = b',"stream_id":' + orjson.dumps(lane) + b"}" if lane is not None else b""

    def __call__(self, event: Event) -> None:
        frame = event_json(event, self._next)
        self._next += 1
        self._outbox.put(frame[:-1] + self._suffix if self._suffix else frame)
