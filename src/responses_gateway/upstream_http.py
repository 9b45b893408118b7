"""HTTP/1.1 to the one upstream: a keep-alive pool of asyncio connections read by httptools (the
parser uvicorn already runs), in place of aiohttp's client.

Measured (callgrind, the benchmark's upstream, one non-streamed ``chat/completions`` call after a
warm-up): aiohttp's ``post`` and ``read`` cost ~512,000 instructions a call, this client ~136,000
(a streamed call ~865,000 against ~503,000); aiohttp's request, response, payload, timer and
connector objects were the difference. Not importing aiohttp also took the idle RSS on PostgreSQL
from 71.2 to 62.8 MiB (bench/memory.py). The upstream is one configured OpenAI-style server, so
what this leaves out is what it never needs: redirects, proxies, cookies, compressed answers (it
sends no ``Accept-Encoding``) and HTTP/2.

Deadlines, as aiohttp's were: ``connect`` bounds getting a connection, the wait for a free pooled
one included (``PoolTimeout``, a 503 to the caller); ``sock_connect`` opening one; ``read`` each
wait for more of the answer; ``total`` the whole call, body included. One timer runs per wait, for
the nearest of them, and none while data is already there.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import httptools

from responses_gateway import __version__

_HIGH_WATER = 1024 * 1024  # buffered answer bytes past which the socket is not read
_IDLE_SECONDS = 15.0  # an idle pooled connection older than this is closed, not reused


class PoolTimeout(TimeoutError):
    """No connection in time: every pooled one busy, or the server not accepting connections."""


class ReadTimeout(TimeoutError):
    """The upstream sent nothing for the read timeout."""


class TotalTimeout(TimeoutError):
    """The call ran past its total deadline."""


class ServerDisconnected(ConnectionError):
    """The upstream closed the connection before the end of its answer."""


class BadResponse(ConnectionError):
    """The upstream's bytes are not an HTTP/1.1 answer."""


@dataclass(frozen=True)
class Timeouts:
    connect: float
    sock_connect: float
    read: float
    total: float


def _expire(waiter: asyncio.Future[Any], error: type[TimeoutError]) -> None:
    if not waiter.done():
        waiter.set_exception(error())


class _Connection(asyncio.Protocol):
    """One socket; the parser's callbacks fill in the answer being read."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self.reset()

    def reset(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.head_done = self.complete = self.keep_alive = False
        self.error: BaseException | None = None

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(BadResponse(f"unreadable answer: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.head_done and not self.complete and self._ends_at_close():
            self.complete = True  # no length said: the body ends with the connection
        elif not self.complete:
            self._fail(ServerDisconnected("the upstream closed the connection"))
        self._wake()

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self.head_done = True
        self.keep_alive = bool(self._parser.should_keep_alive())  # not known after the body
        self._wake()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > _HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        self.complete = True
        self._wake()

    # for the client
    @property
    def status(self) -> int:
        return self._parser.get_status_code()

    @property
    def reusable(self) -> bool:
        return not self.closed and self.complete and self.keep_alive

    def take(self) -> bytes:
        """Every body byte read so far."""
        chunks = self.chunks
        data = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self.buffered = 0
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return data

    async def wait(self, read_timeout: float, deadline: float) -> None:
        """Until the parser has more (or the connection ends); a timeout is raised as such."""
        if self.error is not None:
            raise self.error
        left = deadline - time.monotonic()
        error = ReadTimeout if read_timeout < left else TotalTimeout
        waiter = self._waiter = self._loop.create_future()
        timer = self._loop.call_later(min(read_timeout, left), _expire, waiter, error)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _ends_at_close(self) -> bool:
        names = {name for name, _ in self.headers}
        return b"content-length" not in names and b"transfer-encoding" not in names

    def _fail(self, error: BaseException) -> None:
        if self.error is None:
            self.error = error

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class Answer:
    """An upstream answer whose head has arrived; its body is read with ``read`` or ``chunks``
    and the connection goes back to the pool (or is closed) with ``release``."""

    __slots__ = ("_client", "_connection", "_deadline", "_released", "headers", "status")

    def __init__(self, client: UpstreamHttp, connection: _Connection, deadline: float) -> None:
        self._client = client
        self._connection = connection
        self._deadline = deadline
        self._released = False
        self.status = connection.status
        self.headers = {
            name.decode("latin-1"): v.decode("latin-1") for name, v in connection.headers
        }

    async def next_chunk(self) -> bytes:
        """The body bytes read since the last call, waiting for some; ``b""`` at its end."""
        connection = self._connection
        while not connection.chunks:
            if connection.complete:
                return b""
            await connection.wait(self._client.timeouts.read, self._deadline)
        return connection.take()

    async def read(self) -> bytes:
        """The whole body."""
        connection = self._connection
        while not connection.complete:
            await connection.wait(self._client.timeouts.read, self._deadline)
        return connection.take() if connection.chunks else b""

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives; the connection is released at its end or when left."""
        try:
            while chunk := await self.next_chunk():
                yield chunk
        finally:
            self.release()

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._client.release(self._connection)


class UpstreamHttp:
    """Requests to ``base_url``'s server over at most ``max_connections`` kept-alive connections."""

    def __init__(
        self, base_url: str, timeouts: Timeouts, max_connections: int, headers: dict[str, str]
    ) -> None:
        parts = urlsplit(base_url)
        self._host = parts.hostname or "localhost"
        self._tls = parts.scheme == "https"
        self._port = parts.port or (443 if self._tls else 80)
        self._path = parts.path.rstrip("/") + "/"
        fixed = {"host": parts.netloc, "user-agent": f"responses-gateway/{__version__}"} | headers
        self._fixed = "".join(f"{name}: {value}\r\n" for name, value in fixed.items()).encode()
        self.timeouts = timeouts
        self._max = max_connections
        self._open = 0
        self._idle: list[_Connection] = []
        self._waiters: deque[asyncio.Future[_Connection | None]] = deque()
        self._ssl = _tls_context() if self._tls else None  # loads the CA bundle: not per call

    @property
    def base_path(self) -> str:
        return self._path

    async def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        sent: Callable[[], None] | None = None,
    ) -> Answer:
        """Send one request and wait for the answer's head. ``path``: absolute, or relative to
        the base URL's path. ``sent``: called once the request is written, while the server
        works on it."""
        deadline = time.monotonic() + self.timeouts.total
        connection = await self._acquire(deadline)
        try:
            connection.reset()
            target = path if path.startswith("/") else self._path + path
            head = f"{method} {target} HTTP/1.1\r\n".encode() + self._fixed
            if body is not None:
                head += b"content-type: application/json\r\ncontent-length: %d\r\n" % len(body)
            assert connection.transport is not None
            connection.transport.write(head + b"\r\n" + body if body else head + b"\r\n")
            if sent is not None:
                sent()
            while not connection.head_done:
                await connection.wait(self.timeouts.read, deadline)
        except BaseException:
            connection.close()
            self.release(connection)
            raise
        return Answer(self, connection, deadline)

    async def fetch(
        self, method: str, path: str, body: bytes | None = None
    ) -> tuple[Answer, bytes]:
        """One call read whole: its answer (status, headers), already released, and its body."""
        answer = await self.request(method, path, body)
        try:
            return answer, await answer.read()
        finally:
            answer.release()

    def release(self, connection: _Connection) -> None:
        """Back to the pool when its answer was read whole on a kept-alive connection, else
        closed; either way a caller waiting for a connection is woken."""
        if connection.reusable:
            while self._waiters:
                waiter = self._waiters.popleft()
                if not waiter.done():
                    waiter.set_result(connection)
                    return
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
            return
        if not connection.closed:
            connection.close()
        self._open -= 1
        self._pass_on(None)  # a free place: a waiting caller opens a connection

    async def aclose(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()

    async def _acquire(self, deadline: float) -> _Connection:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed and now - connection.idle_since < _IDLE_SECONDS:
                return connection
            connection.close()
            self._open -= 1
        pool_deadline = min(now + self.timeouts.connect, deadline)
        if self._open >= self._max:
            found = await self._wait_for_place(pool_deadline, deadline)
            if found is not None:
                return found
        self._open += 1
        try:
            return await self._connect(pool_deadline, deadline)
        except BaseException:
            self._open -= 1
            raise

    async def _wait_for_place(self, pool_deadline: float, deadline: float) -> _Connection | None:
        """A pooled connection another call released, or None: a place to open one."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Any] = loop.create_future()
        self._waiters.append(waiter)
        error = TotalTimeout if pool_deadline >= deadline else PoolTimeout
        timer = loop.call_at(_loop_time(pool_deadline), _expire, waiter, error)
        try:
            found: _Connection | None = await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._pass_on(waiter.result())  # given to this call as it was cancelled
            raise
        finally:
            timer.cancel()
        return found

    def _pass_on(self, connection: _Connection | None) -> None:
        if connection is not None:
            self.release(connection)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def _connect(self, pool_deadline: float, deadline: float) -> _Connection:
        loop = asyncio.get_running_loop()
        limit = min(pool_deadline, time.monotonic() + self.timeouts.sock_connect)
        try:
            async with asyncio.timeout_at(_loop_time(limit)):
                _, connection = await loop.create_connection(
                    lambda: _Connection(loop),
                    self._host,
                    self._port,
                    ssl=self._ssl,
                )
        except TimeoutError:
            raise (TotalTimeout if limit >= deadline else PoolTimeout)() from None
        return connection


def _tls_context() -> ssl.SSLContext:
    """The system's trusted CAs, as aiohttp's default was: OpenSSL's default verify paths, which
    ``SSL_CERT_FILE`` (a bundle used in place of the system's) or ``SSL_CERT_DIR`` replace to
    trust a private CA. ALPN says HTTP/1.1, all this client speaks (aiohttp said the same)."""
    context = ssl.create_default_context()
    context.set_alpn_protocols(["http/1.1"])
    return context


def untrusted_certificate(exc: ssl.SSLCertVerificationError) -> str:
    """What to tell an operator whose upstream's certificate was refused (requests and ``check``
    say the same)."""
    return (
        f"TLS certificate was not accepted ({exc.verify_message}); to trust a private CA, "
        "point SSL_CERT_FILE at a bundle that holds it"
    )


def _loop_time(deadline: float) -> float:
    """A ``time.monotonic`` deadline on the running loop's clock."""
    loop = asyncio.get_running_loop()
    return loop.time() + (deadline - time.monotonic())
