"""The upstream chat-completions backend over one pooled ``aiohttp.ClientSession``.

aiohttp rather than httpx: its C parser makes a bridged call cost ~0.3 ms of CPU against httpx's
~0.8 ms (measured against the benchmark's upstream), the largest single cost of a request.

Errors are converted here, at the boundary: transport failures and upstream 5xx become a 502, an
upstream 4xx keeps its status; both carry the upstream's own message but never our upstream key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from aiohttp.http_exceptions import LineTooLong

from responses_gateway.config import Settings
from responses_gateway.errors import UpstreamBusy, UpstreamError

_JSON = {"content-type": "application/json"}
# The longest SSE line accepted from the upstream (aiohttp allows twice its read buffer). A
# longer one fails the response as an upstream error that says so.
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
        self._base = settings.upstream_url.rstrip("/") + "/"
        self._session = aiohttp.ClientSession(
            headers=headers,
            connector=aiohttp.TCPConnector(limit=settings.upstream_max_connections),
            # connect: getting a connection, the wait for a free pooled one included;
            # sock_connect: opening a new one; total: the whole call, body included.
            timeout=aiohttp.ClientTimeout(
                total=settings.upstream_total_timeout,
                connect=settings.upstream_pool_timeout,
                sock_connect=settings.upstream_connect_timeout,
                sock_read=settings.upstream_timeout,
            ),
            read_bufsize=MAX_UPSTREAM_LINE_BYTES // 2,
            trust_env=False,
        )
        self._pool_timeout = settings.upstream_pool_timeout

    async def aclose(self) -> None:
        await self._session.close()

    async def complete(self, payload: dict[str, Any]) -> dict[str, Any]:
        """One non-streamed completion."""
        try:
            async with self._session.post(
                self._base + "chat/completions", data=orjson.dumps(payload), headers=_JSON
            ) as response:
                body = await response.read()
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise self._unreachable(exc) from None
        if status >= 400:
            raise _status_error(status, body)
        try:
            parsed: dict[str, Any] = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise UpstreamError("The upstream answered with a body that is not JSON.") from None
        return parsed

    async def stream(self, payload: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Chunks of a streamed completion, parsed from ``data:`` lines until ``[DONE]``."""
        try:
            async with self._session.post(
                self._base + "chat/completions", data=orjson.dumps(payload), headers=_JSON
            ) as response:
                if response.status >= 400:
                    raise _status_error(response.status, await response.read())
                async for line in response.content:
                    if not line.startswith(b"data:"):
                        continue
                    data = line[5:].strip()
                    if data == b"[DONE]":
                        break
                    if data:
                        chunk = orjson.loads(data)
                        if isinstance(chunk, dict) and chunk.get("error"):
                            raise _error_from_body(502, chunk)
                        yield chunk
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise self._unreachable(exc) from None
        except orjson.JSONDecodeError:
            raise UpstreamError("The upstream sent a stream chunk that is not JSON.") from None
        except LineTooLong:
            raise UpstreamError(
                f"The upstream sent a stream line over {MAX_UPSTREAM_LINE_BYTES} bytes.",
                code="upstream_line_too_long",
            ) from None

    async def relay(self, method: str, path: str, body: bytes | None = None) -> Relayed:
        """Pass a request through unchanged (``/v1/models``, ``/v1/chat/completions``)."""
        try:
            response = await self._session.request(
                method, self._base + path, data=body, headers=_JSON if body else None
            )
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise self._unreachable(exc) from None
        keep = {k: v for k, v in response.headers.items() if k.lower() == "content-type"}
        return Relayed(response.status, keep, _body_then_release(response))

    def _unreachable(self, exc: BaseException) -> UpstreamError:
        """No connection in time (pool full or server not answering) is a 503 worth retrying;
        a call that ran out of time is a 504; anything else a 502."""
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
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
        return UpstreamError(
            f"The upstream model server could not be reached ({type(exc).__name__})."
        )


async def _body_then_release(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.content.iter_any():
            yield chunk
    finally:
        response.release()


def _status_error(status: int, body: bytes) -> UpstreamError:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict):
        return _error_from_body(status, parsed)
    text = body.decode("utf-8", "replace").strip()[:500] or "no body"
    return _with_status(status, f"Upstream error {status}: {text}", None)


def _error_from_body(status: int, body: dict[str, Any]) -> UpstreamError:
    error = body.get("error", body)
    if isinstance(error, dict):
        message = str(error.get("message") or error.get("detail") or error)
        code = error.get("code")
    else:
        message, code = str(error), None
    return _with_status(status, message, str(code) if code is not None else None)


def _with_status(status: int, message: str, code: str | None) -> UpstreamError:
    # A 4xx is the caller's problem (bad model name, context too long): keep its status.
    # A 5xx is ours to report as a bad gateway.
    return UpstreamError(message, code=code, status_code=status if 400 <= status < 500 else 502)
