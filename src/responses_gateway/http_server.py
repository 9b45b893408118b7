"""uvicorn as the gateway runs it: connections that send nothing, or headers a byte at a time
(slowloris), or endless headers, are closed instead of held forever.

uvicorn arms its keep-alive timer only after a response, so a connection that never completes a
request was never timed out; httptools has no header size limit. ``GuardedHttpToolsProtocol``
adds both: the request line and headers must arrive within ``GATEWAY_HEADER_TIMEOUT`` of the
connection (or of the request's first byte on a kept-alive connection) and stay under
``MAX_HEADER_BYTES``. The body is bounded by ``api/limits.py``.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from responses_gateway.config import Settings
from responses_gateway.errors import error_envelope

MAX_HEADER_BYTES = 64 * 1024  # request line and headers together


def _error(status: bytes, message: str, code: str) -> bytes:
    body = orjson.dumps(error_envelope(message, "invalid_request_error", None, code))
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
    )


_TIMED_OUT = _error(b"408 Request Timeout", "The request headers took too long.", "request_timeout")
_TOO_LARGE = _error(
    b"431 Request Header Fields Too Large",
    f"The request line and headers are larger than {MAX_HEADER_BYTES} bytes.",
    "headers_too_large",
)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline and a header size limit."""

    # None: GATEWAY_HEADER_TIMEOUT, read in each process (``--workers`` spawns processes that
    # import this class by name, so a per-server value cannot travel with it).
    header_timeout: float | None = None

    _header_timer: asyncio.TimerHandle | None = None
    _header_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        if self._header_timer is None:
            self._arm()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def _count(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > MAX_HEADER_BYTES:
            self._close_with(_TOO_LARGE)
            raise ValueError("request headers too large")  # stops the parser

    def _arm(self) -> None:
        timeout = self.header_timeout or _header_timeout_from_environment()
        self._header_timer = self.loop.call_later(timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _timed_out(self) -> None:
        self._header_timer = None
        self._close_with(_TIMED_OUT)

    def _close_with(self, answer: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(answer)
            self.transport.close()


@functools.cache
def _header_timeout_from_environment() -> float:
    return Settings().header_timeout


def uvicorn_options(settings: Settings, *, in_process: bool = False) -> dict[str, Any]:
    """What ``uvicorn.run``/``uvicorn.Config`` needs beyond the app, host and port.
    ``in_process``: the server runs in this process (tests), so the protocol can carry
    ``settings`` itself instead of reading the environment."""
    protocol: type[GuardedHttpToolsProtocol] = GuardedHttpToolsProtocol
    if in_process:
        protocol = type(
            "GatewayHttpProtocol", (protocol,), {"header_timeout": settings.header_timeout}
        )
    return {"http": protocol, "timeout_keep_alive": settings.keep_alive_timeout}
