"""The upstream chat-completions backend over one connection pool (``upstream_http``).

Errors are converted here, at the boundary: transport failures and upstream 5xx become a 502, an
upstream 4xx keeps its status; both carry the upstream's own message but never our upstream key
(``upstream_errors`` reads each backend's error dialect).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from responses_gateway.config import Settings
from responses_gateway.errors import UpstreamBusy, UpstreamError
from responses_gateway.schemas.base import encode_json
from responses_gateway.upstream_errors import error_from_body, passed_headers, status_error
from responses_gateway.upstream_http import (
    Answer,
    PoolTimeout,
    Timeouts,
    UpstreamHttp,
    untrusted_certificate,
)

# What a call can fail with below the HTTP answer: a socket error or a deadline (both OSErrors).
_TRANSPORT = OSError
# The longest SSE line accepted from the upstream. A longer one fails the response as an upstream
# error that says so.
MAX_UPSTREAM_LINE_BYTES = 16 * 1024 * 1024


@dataclass
class Relayed:
    """An upstream answer being passed through: status, headers worth keeping, body chunks."""

    status: int
    headers: dict[str, str]
    body: AsyncIterator[bytes]


class UpstreamClient:
    """Calls ``{GATEWAY_UPSTREAM_URL}/chat/completions`` and friends."""

    def __init__(self, settings: Settings) -> None:
        headers = {}
        key = settings.upstream_api_key.get_secret_value() if settings.upstream_api_key else ""
        if key:
            headers["authorization"] = f"Bearer {key}"
        timeouts = Timeouts(
            connect=settings.upstream_pool_timeout,
            sock_connect=settings.upstream_connect_timeout,
            read=settings.upstream_timeout,
            total=settings.upstream_total_timeout,
        )
        self._http = UpstreamHttp(
            settings.upstream_url, timeouts, settings.upstream_max_connections, headers
        )
        self._pool_timeout = settings.upstream_pool_timeout

    async def aclose(self) -> None:
        await self._http.aclose()

    async def complete(self, payload: dict[str, Any]) -> dict[str, Any]:
        """One non-streamed completion."""
        try:
            answer, body = await self._http.fetch("POST", "chat/completions", encode_json(payload))
        except _TRANSPORT as exc:
            raise self._unreachable(exc) from None
        if answer.status >= 400:
            raise status_error(answer.status, body, answer.headers)
        parsed = _json_object(body, "a body")
        if parsed.get("error") and not parsed.get("choices"):
            raise error_from_body(None, parsed)  # an error said with a 200
        return parsed

    async def stream(
        self, payload: dict[str, Any], sent: Callable[[], None] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Chunks of a streamed completion, parsed from ``data:`` lines until ``[DONE]``;
        ``sent`` is called once the request is written (``UpstreamHttp.request``).

        A stream must end with ``[DONE]`` or after a chunk with a ``finish_reason``: a close
        before either, a broken connection or a read timeout mid-stream is an error (the answer
        is cut), said as such, not as "could not be reached"."""
        progress = StreamProgress()
        answer: Answer | None = None
        try:
            body = encode_json(payload)
            answer = await self._http.request("POST", "chat/completions", body, sent=sent)
            if answer.status >= 400:
                raise status_error(answer.status, await answer.read(), answer.headers)
            progress.started = True
            lines = LineSplitter()
            while True:
                data = await answer.next_chunk()
                for line in lines.feed(data or b"\n"):  # b"" is the end: it ends a last line
                    if not line:
                        continue  # the blank line after each event
                    chunk = progress.parse(line)
                    if chunk is not None:
                        yield chunk
                    elif progress.done:
                        return
                if not data:
                    break
        except _TRANSPORT as exc:
            if progress.finished:
                return  # the answer was whole; only the usage chunk or [DONE] went missing
            raise (_broken(exc) if progress.started else self._unreachable(exc)) from None
        finally:
            if answer is not None:
                answer.release()
        if not progress.finished:
            raise UpstreamError(
                "The upstream model server closed the stream before finishing its answer "
                "(no finish_reason and no [DONE])."
            )

    async def post_root(self, path: str, body: bytes) -> tuple[int, bytes]:
        """``POST`` beside ``/v1`` (``/tokenize``, ``/apply-template``): status and body."""
        root = self._http.base_path.removesuffix("/").removesuffix("/v1") + "/"
        try:
            answer, answered = await self._http.fetch("POST", root + path, body)
        except _TRANSPORT as exc:
            raise self._unreachable(exc) from None
        return answer.status, answered

    async def relay(self, method: str, path: str, body: bytes | None = None) -> Relayed:
        """Pass a request through unchanged (``/v1/models``, ``/v1/chat/completions``)."""
        try:
            answer = await self._http.request(method, path, body)
        except _TRANSPORT as exc:
            raise self._unreachable(exc) from None
        keep = passed_headers(answer.headers)
        if "content-type" in answer.headers:
            keep["content-type"] = answer.headers["content-type"]
        return Relayed(answer.status, keep, answer.chunks())

    def _unreachable(self, exc: BaseException) -> UpstreamError:
        """No connection in time (pool full or server not answering) is a 503 worth retrying;
        a call that ran out of time is a 504; anything else a 502."""
        if isinstance(exc, PoolTimeout):
            return UpstreamBusy(
                "The upstream model server did not take the request within "
                f"{self._pool_timeout:g} s (every pooled connection busy, or it is not "
                "accepting connections); try again."
            )
        if isinstance(exc, TimeoutError):
            return UpstreamError(
                f"The upstream model server timed out ({type(exc).__name__}).",
                code="upstream_timeout",
                status_code=504,
            )
        if isinstance(exc, ssl.SSLCertVerificationError):
            return UpstreamError(f"The upstream model server's {untrusted_certificate(exc)}.")
        return UpstreamError(
            f"The upstream model server could not be reached ({type(exc).__name__})."
        )


class LineSplitter:
    """An SSE body's lines, as each read brings them; a line cut between reads waits for its end.

    Whole reads split here rather than aiohttp's ``readline``: measured on the benchmark's
    stream (47 lines), readline cost ~15 µs of CPU a line, the split ~0.1 µs."""

    __slots__ = ("_partial", "_size")

    def __init__(self) -> None:
        self._partial: list[bytes] = []
        self._size = 0

    def feed(self, data: bytes) -> list[bytes]:
        """The lines ``data`` completes, without their ``\\n``."""
        if b"\n" not in data:
            self._keep(data)
            return []
        if self._partial:
            self._partial.append(data)
            data = b"".join(self._partial)
            self._partial, self._size = [], 0
        lines = data.split(b"\n")
        tail = lines.pop()
        if tail:
            self._keep(tail)
        if len(data) > MAX_UPSTREAM_LINE_BYTES and max(map(len, lines)) > MAX_UPSTREAM_LINE_BYTES:
            raise _line_too_long()
        return lines

    def _keep(self, data: bytes) -> None:
        self._partial.append(data)
        self._size += len(data)
        if self._size > MAX_UPSTREAM_LINE_BYTES:
            raise _line_too_long()


def _line_too_long() -> UpstreamError:
    return UpstreamError(
        f"The upstream sent a stream line over {MAX_UPSTREAM_LINE_BYTES} bytes.",
        code="upstream_line_too_long",
    )


class StreamProgress:
    """Where a stream is: answering yet, finished (a ``finish_reason`` seen), ``[DONE]``."""

    __slots__ = ("done", "finished", "started")

    def __init__(self) -> None:
        self.started = self.finished = self.done = False

    def parse(self, line: bytes) -> dict[str, Any] | None:
        """The chunk on one SSE line, or None (a comment, a blank line, ``[DONE]``)."""
        if not line.startswith(b"data:"):
            return None
        data = line[5:].strip()
        if data == b"[DONE]":
            self.done = self.finished = True
            return None
        if not data:
            return None
        chunk = _json_object(data, "a stream chunk")
        if chunk.get("error"):
            raise error_from_body(None, chunk)
        choices = chunk.get("choices")
        if not self.finished and isinstance(choices, list) and choices:
            self.finished = isinstance(choices[0], dict) and bool(choices[0].get("finish_reason"))
        return chunk


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise UpstreamError(f"The upstream sent {what} that is not JSON.") from None
    if not isinstance(parsed, dict):
        raise UpstreamError(f"The upstream sent {what} that is not a JSON object.")
    return parsed


def _broken(exc: BaseException) -> UpstreamError:
    if isinstance(exc, TimeoutError):
        return UpstreamError(
            "The upstream model server stopped sending mid-stream and timed out "
            f"({type(exc).__name__}); the answer is cut.",
            code="upstream_timeout",
            status_code=504,
        )
    return UpstreamError(
        "The connection to the upstream model server broke mid-stream "
        f"({type(exc).__name__}); the answer is cut."
    )
