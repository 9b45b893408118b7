"""The record of one request, filled by whoever learns a fact about it and read once at its end.

A context variable rather than an argument threaded through every layer: the route, the service
and the upstream wrapper each add what they know, and the request log and the request metrics
read it in one place when the response has been sent. Tasks started for a stream inherit it.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

_current: ContextVar[RequestRecord | None] = ContextVar("gateway_request", default=None)


@dataclass(slots=True)
class RequestRecord:
    request_id: str
    method: str
    path: str
    started: float = field(default_factory=time.perf_counter)
    status: int = 0
    first_body_at: float | None = None
    streamed: bool = False
    model: str | None = None
    response_id: str | None = None
    usage: dict[str, Any] | None = None
    upstream_seconds: float = 0.0


def begin(record: RequestRecord) -> None:
    _current.set(record)


def current() -> RequestRecord | None:
    return _current.get()


def note_response(response: dict[str, Any]) -> None:
    """The final Response of this request: its id, model and usage go to the log and metrics."""
    record = _current.get()
    if record is not None:
        record.response_id = response.get("id")
        record.model = response.get("model")
        record.usage = response.get("usage")


def note_upstream(seconds: float) -> None:
    record = _current.get()
    if record is not None:
        record.upstream_seconds += seconds
