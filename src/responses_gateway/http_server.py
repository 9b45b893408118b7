"""uvicorn as the gateway runs it: connections that send nothing, headers or a body a byte at a
time (slowloris), or endless headers, are closed instead of held forever.

uvicorn arms its keep-alive timer only after a response, so a connection that never completes a
request was never timed out, and httptools has no header size limit. ``GuardedHttpToolsProtocol``
adds them: the request line and headers must arrive within ``GATEWAY_HEADER_TIMEOUT`` of the
connection (or of the request's first byte on a kept-alive connection) and stay under
``MAX_HEADER_BYTES``; the body must then arrive within ``GATEWAY_BODY_TIMEOUT``. One timer per
connection, moved only when needed (an ``asyncio.timeout`` around the body read cost six
microseconds a request). The body's size is bounded by ``api/limits.py``.

A response's head goes out in the same ``writev`` as its first body bytes (``HeadWithBody``):
uvicorn writes each ASGI message at once, so a JSON answer took two syscalls and a stream's head
one of its own.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from responses_gateway.config import Settings
from responses_gateway.errors import error_envelope

MAX_HEADER_BYTES = 64 * 1024  # request line and headers together


def _error(status: bytes, message: str, code: str) -> bytes:
    body = orjson.dumps(error_envelope(message, "invalid_request_error", None, code))
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
    )


_HEADERS_LATE = _error(
    b"408 Request Timeout", "The request headers were not received in time.", "request_timeout"
)
_BODY_LATE = _error(
    b"408 Request Timeout", "The request body was not received in time.", "request_timeout"
)
_TOO_LARGE = _error(
    b"431 Request Header Fields Too Large",
    f"The request line and headers are larger than {MAX_HEADER_BYTES} bytes.",
    "headers_too_large",
)


@functools.cache
def _timeouts_from_environment() -> tuple[float, float]:
    settings = Settings()
    return settings.header_timeout, settings.body_timeout


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header and body deadlines and a header size limit."""

    # None: GATEWAY_HEADER_TIMEOUT / GATEWAY_BODY_TIMEOUT, read in each process (``--workers``
    # spawns processes that import this class by name, so a per-server value cannot travel).
    header_timeout: float | None = None
    body_timeout: float | None = None

    # One timer per connection, moved only when a deadline comes earlier than it: a request
    # just writes ``_deadline`` (0: none due). Measured against arming and cancelling two timers
    # a request: ``store: false`` 0.826 -> 0.810 M instructions, streamed 2.598 -> 2.577 M
    # (callgrind).
    _timer: asyncio.TimerHandle | None = None
    _timer_at = 0.0
    _deadline = 0.0
    _answer = b""
    _header_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._expect(self.header_timeout, 0, _HEADERS_LATE)

    def connection_lost(self, exc: Exception | None) -> None:
        self._deadline = 0.0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        if not self._deadline:  # else the connection's first request: due since it was made
            self._expect(self.header_timeout, 0, _HEADERS_LATE)

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._deadline = 0.0
        if self.parser.should_upgrade():  # a WebSocket: not a body, nor an HTTP answer
            super().on_headers_complete()
            return
        self._expect(self.body_timeout, 1, _BODY_LATE)
        super().on_headers_complete()
        cycle: RequestResponseCycle | None = self.cycle
        if cycle is not None and cycle.transport is self.transport:  # the new request's cycle
            cycle.transport = HeadWithBody(self.transport, self.loop)  # type: ignore[assignment]

    def on_message_complete(self) -> None:
        self._deadline = 0.0
        super().on_message_complete()

    def _count(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > MAX_HEADER_BYTES:
            self._close_with(_TOO_LARGE)
            raise ValueError("request headers too large")  # stops the parser

    def _expect(self, timeout: float | None, which: int, answer: bytes) -> None:
        """``answer`` goes out unless the deadline is cleared within ``timeout`` seconds."""
        seconds = timeout or _timeouts_from_environment()[which]
        self._deadline = deadline = self.loop.time() + seconds
        self._answer = answer
        if self._timer is None or self._timer_at > deadline:
            if self._timer is not None:
                self._timer.cancel()
            self._arm(deadline)

    def _arm(self, at: float) -> None:
        self._timer_at = at
        self._timer = self.loop.call_at(at, self._due)

    def _due(self) -> None:
        self._timer = None
        deadline = self._deadline
        if not deadline:
            return  # nothing due: the next deadline arms a timer again
        if deadline > self._timer_at:
            self._arm(deadline)  # moved on since this timer was set
            return
        self._deadline = 0.0
        self._late(self._answer)

    def _late(self, answer: bytes) -> None:
        cycle: RequestResponseCycle | None = self.cycle
        if answer is _HEADERS_LATE and cycle is not None and cycle.response_complete:
            cycle = None  # the previous request's, on a kept-alive connection: this one gets a 408
        if cycle is not None and cycle.response_started:
            self.transport.close()  # the app answered without the whole body: just hang up
        else:
            self._close_with(answer)

    def _close_with(self, answer: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(answer)
            self.transport.close()


class HeadWithBody:
    """The transport one response is written through: its first write (the head) is held until
    the next one, which takes it along in one ``writev``, or until the end of this pass of the
    loop when nothing follows at once (a stream's head before its first events).

    On this VM a write to a loopback reader that sleeps costs ~20 µs of the gateway's CPU (the
    reader's wake-up is sent from inside the syscall), a second one right after it ~8 µs
    (``writev`` of 150 + 300 bytes against two writes, 10,000 of each, uvloop).
    """

    __slots__ = ("_first", "_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._first = True
        self._held = b""

    def write(self, data: bytes) -> None:
        if self._first:
            self._first = False
            self._held = data
            self._loop.call_soon(self.flush)
            return
        held = self._held
        if held:
            self._held = b""
            self._transport.writelines((held, data))
        else:
            self._transport.write(data)

    def flush(self) -> None:
        held = self._held
        if held:
            self._held = b""
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()


def uvicorn_options(settings: Settings, *, in_process: bool = False) -> dict[str, Any]:
    """What ``uvicorn.run``/``uvicorn.Config`` needs beyond the app, host and port.
    ``in_process``: the server runs in this process (tests), so the protocol can carry
    ``settings`` itself instead of reading the environment."""
    protocol: type[GuardedHttpToolsProtocol] = GuardedHttpToolsProtocol
    if in_process:
        timeouts = {
            "header_timeout": settings.header_timeout,
            "body_timeout": settings.body_timeout,
        }
        protocol = type("GatewayHttpProtocol", (protocol,), timeouts)
    # No ``X-Forwarded-*`` rewriting of the client and scheme (uvicorn's ProxyHeadersMiddleware,
    # one more layer per request): nothing in the gateway reads either. No ``server: uvicorn``
    # header (two header checks per response, and it names the server to any caller).
    return {
        "http": protocol,
        "timeout_keep_alive": settings.keep_alive_timeout,
        "proxy_headers": False,
        "server_header": False,
    }
