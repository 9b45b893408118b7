"""The upstream chat-completions backend over one pooled ``httpx.AsyncClient``.

Errors are converted here, at the boundary: transport failures and upstream 5xx become a 502, an
upstream 4xx keeps its status; both carry the upstream's own message but never our upstream key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson

from responses_gateway.config import Settings
from responses_gateway.errors import UpstreamError


class UpstreamClient:
    """Calls ``{GATEWAY_UPSTREAM_URL}/chat/completions`` and friends."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None):
        headers = {"content-type": "application/json"}
        if settings.upstream_api_key is not None:
            headers["authorization"] = f"Bearer {settings.upstream_api_key.get_secret_value()}"
        limits = httpx.Limits(
            max_connections=settings.upstream_max_connections,
            max_keepalive_connections=settings.upstream_max_connections,
        )
        self._client = httpx.AsyncClient(
            base_url=settings.upstream_url.rstrip("/") + "/",
            headers=headers,
            timeout=httpx.Timeout(settings.upstream_timeout, connect=10.0),
            limits=limits,
            transport=transport,
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def complete(self, payload: dict[str, Any]) -> dict[str, Any]:
        """One non-streamed completion."""
        try:
            response = await self._client.post("chat/completions", content=orjson.dumps(payload))
        except httpx.HTTPError as exc:
            raise _unreachable(exc) from None
        if response.status_code >= 400:
            raise _status_error(response.status_code, response.content)
        try:
            body: dict[str, Any] = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise UpstreamError("The upstream answered with a body that is not JSON.") from None
        return body

    async def stream(self, payload: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Chunks of a streamed completion, parsed from ``data:`` lines until ``[DONE]``."""
        request = self._client.build_request(
            "POST", "chat/completions", content=orjson.dumps(payload)
        )
        try:
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise _unreachable(exc) from None
        try:
            if response.status_code >= 400:
                raise _status_error(response.status_code, await response.aread())
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                if data:
                    chunk = orjson.loads(data)
                    if isinstance(chunk, dict) and chunk.get("error"):
                        raise _error_from_body(502, chunk)
                    yield chunk
        except httpx.HTTPError as exc:
            raise _unreachable(exc) from None
        except orjson.JSONDecodeError:
            raise UpstreamError("The upstream sent a stream chunk that is not JSON.") from None
        finally:
            await response.aclose()

    async def proxy(
        self, method: str, path: str, body: bytes | None = None
    ) -> tuple[httpx.Response, AsyncIterator[bytes]]:
        """Pass a request through unchanged (``/v1/models``, ``/v1/chat/completions``)."""
        request = self._client.build_request(method, path, content=body)
        try:
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise _unreachable(exc) from None
        return response, _body_then_close(response)


async def _body_then_close(response: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.aiter_raw():
            yield chunk
    finally:
        await response.aclose()


def _unreachable(exc: httpx.HTTPError) -> UpstreamError:
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "could not be reached"
    return UpstreamError(f"The upstream model server {kind} ({type(exc).__name__}).")


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
