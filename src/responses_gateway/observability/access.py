"""The outermost ASGI layer: request id, the request log line, request metrics, and refusing new
requests while the process drains for a restart.

Pure ASGI rather than a Starlette ``BaseHTTPMiddleware``: that one runs the app in a second task
and copies every body chunk through a stream, which costs more than the rest of this file.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from responses_gateway.lifecycle import Lifecycle
from responses_gateway.observability import metrics
from responses_gateway.observability.logs import ACCESS
from responses_gateway.observability.record import RequestRecord, begin

_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_DRAINING = (
    b'{"error":{"message":"The server is restarting: retry the request.",'
    b'"type":"server_error","param":null,"code":"shutting_down"}}'
)
_ALWAYS_SERVED = frozenset({"/healthz", "/readyz", "/metrics"})


def request_id(scope: Scope) -> str:
    """The client's ``x-request-id`` when it is a sane token, else a new one."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = bytes(value).decode("latin-1")
            if _CLIENT_ID.match(text):
                return text
            break
    return f"req_{_id_prefix}{next(_id_counter):012x}"


# A request id is 24 hex digits, as ``secrets.token_hex(12)`` made them: 12 random per process,
# then a counter, so ids stay unique across processes and replicas without asking the OS for
# randomness each request (2 µs, a syscall). A forked child draws its own prefix.
_id_prefix = secrets.token_hex(6)
_id_counter = itertools.count()


def _new_id_prefix() -> None:
    global _id_prefix, _id_counter
    _id_prefix, _id_counter = secrets.token_hex(6), itertools.count()


os.register_at_fork(after_in_child=_new_id_prefix)


class AccessLayer:
    def __init__(self, app: ASGIApp, lifecycle: Lifecycle) -> None:
        self._app = app
        self._lifecycle = lifecycle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        record = RequestRecord(request_id(scope), scope["method"], scope["path"])
        begin(record)
        if self._lifecycle.draining and scope["path"] not in _ALWAYS_SERVED:
            await _refuse_draining(send, record)
            self._finish(scope, record)
            return
        header = (b"x-request-id", record.request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
                record.streamed = _is_stream(message)
                if record.streamed:
                    metrics.STREAMS.inc()
                message["headers"] = [*message.get("headers", ()), header]
            elif record.first_body_at is None and message.get("body"):
                record.first_body_at = time.perf_counter()
            await send(message)

        self._lifecycle.started()
        try:
            await self._app(scope, receive, send_with_id)
        finally:
            self._lifecycle.ended()
            if record.streamed:
                metrics.STREAMS.dec()
            self._finish(scope, record)

    def _finish(self, scope: Scope, record: RequestRecord) -> None:
        route = _route_of(scope)
        elapsed = time.perf_counter() - record.started
        status = record.status or 500
        counted, timed = _samples(route, record.method, status, record.streamed)
        counted.inc()
        timed.observe(elapsed)
        if record.streamed and record.first_body_at is not None:
            metrics.child(metrics.FIRST_EVENT_SECONDS, route).observe(
                record.first_body_at - record.started
            )
        metrics.count_tokens(record.model, record.usage)
        if ACCESS.isEnabledFor(20):
            ACCESS.info("request", extra=_log_fields(record, route, status, elapsed))


_SampleKey = tuple[str, str, int, bool]
_sample_cache: dict[_SampleKey, tuple[Any, Any]] = {}


def _samples(route: str, method: str, status: int, streamed: bool) -> tuple[Any, Any]:
    """The request counter and duration histogram of this kind of request, found once: the
    labels' strings and two ``metrics.child`` lookups per request cost more than the samples."""
    key = (route, method, status, streamed)
    found = _sample_cache.get(key)
    if found is None:
        flag = "true" if streamed else "false"
        found = (
            metrics.child(metrics.REQUESTS, route, method, str(status), flag),
            metrics.child(metrics.REQUEST_SECONDS, route, flag),
        )
        if len(_sample_cache) < 1000:  # the method is the client's: bound what it can add
            _sample_cache[key] = found
    return found


def _is_stream(message: Message) -> bool:
    for name, value in message.get("headers", ()):
        if name == b"content-type":
            return bool(value.startswith(b"text/event-stream"))
    return False


def _route_of(scope: Scope) -> str:
    """The route's template (``/v1/responses/{response_id}``), so ids do not become labels."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


def _log_fields(record: RequestRecord, route: str, status: int, elapsed: float) -> dict[str, Any]:
    usage = record.usage or {}
    return {
        "request_id": record.request_id,
        "method": record.method,
        "route": route,
        "status": status,
        "duration_ms": round(elapsed * 1000, 2),
        "streamed": record.streamed,
        "model": record.model,
        "response_id": record.response_id,
        "input_tokens": usage.get("input_tokens"),
        "output_tokens": usage.get("output_tokens"),
        "upstream_ms": round(record.upstream_seconds * 1000, 2)
        if record.upstream_seconds
        else None,
    }


async def _refuse_draining(send: Send, record: RequestRecord) -> None:
    record.status = 503
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(_DRAINING)).encode()),
        (b"retry-after", b"1"),
        (b"connection", b"close"),
        (b"x-request-id", record.request_id.encode()),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": _DRAINING})
