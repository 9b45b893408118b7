"""An upstream's error answer → ``UpstreamError``, in OpenAI's terms whatever the backend's dialect.

Backends word errors their own ways: llama-server sends its HTTP status as a numeric ``code`` and
a ``type`` of its own (``exceed_context_size_error``); vLLM, llama-cpp-python, Ollama and OpenAI
each phrase "the prompt does not fit" differently. The client sees one thing: a string ``code`` or
none, ``context_length_exceeded`` (400) for a prompt that does not fit, a message even when the
upstream gave none, and the upstream's ``Retry-After`` / ``x-ratelimit-*`` headers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from responses_gateway.errors import UpstreamError

CONTEXT_LENGTH_EXCEEDED = "context_length_exceeded"

# llama-server's type; then the wordings of vLLM ("maximum context length", "maximum model
# length"), llama-server ("exceeds the available context size"), llama-cpp-python ("exceed
# context window"), Ollama ("exceeds the context length") and OpenAI ("context window").
_CONTEXT_TYPES = frozenset({"exceed_context_size_error", CONTEXT_LENGTH_EXCEEDED})
_CONTEXT_WORDING = re.compile(
    r"context (length|size|window)|maximum model length|max context size", re.IGNORECASE
)


def passed_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The upstream's headers a client needs to back off: ``Retry-After`` and rate limits."""
    return {
        name.lower(): value
        for name, value in headers.items()
        if name.lower() in ("retry-after", "retry-after-ms")
        or name.lower().startswith("x-ratelimit-")
    }


def status_error(status: int, body: bytes, headers: Mapping[str, str]) -> UpstreamError:
    """An HTTP error answer: JSON in any backend's shape, or text."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict):
        return error_from_body(status, parsed, headers)
    text = body.decode("utf-8", "replace").strip()[:500]
    message = f"Upstream error {status}: {text}" if text else _no_message(status)
    return _classified(status, message, None, None, headers)


def error_from_body(
    status: int | None, body: dict[str, Any], headers: Mapping[str, str] | None = None
) -> UpstreamError:
    """``{"error": {...}}``, ``{"error": "..."}``, FastAPI's ``{"detail": ...}`` or a bare object.
    ``status`` is None for an ``error`` chunk inside a stream: its numeric ``code`` (llama-server)
    says what the HTTP status would have been."""
    error = body.get("error", body)
    if not isinstance(error, dict):
        error = {"message": error}
    message = _message(error.get("message") or error.get("detail"))
    code, kind = error.get("code"), error.get("type")
    if status is None:
        status = _status_of_chunk(code)
    return _classified(status, message or _no_message(status), code, kind, headers or {})


def _status_of_chunk(code: Any) -> int:
    if isinstance(code, int) and not isinstance(code, bool) and 400 <= code < 600:
        return code
    return 502


def _message(raw: Any) -> str:
    if isinstance(raw, str):
        return raw.strip()
    if raw is None or raw == [] or raw == {}:
        return ""
    return orjson.dumps(raw).decode()  # FastAPI's detail list, say: JSON, never a Python repr


def _no_message(status: int) -> str:
    return f"The upstream model server answered HTTP {status} without an error message."


def _classified(
    status: int, message: str, code: Any, kind: Any, headers: Mapping[str, str]
) -> UpstreamError:
    passed = passed_headers(headers)
    if (
        kind in _CONTEXT_TYPES
        or code == CONTEXT_LENGTH_EXCEEDED
        or (status < 500 and _CONTEXT_WORDING.search(message))
    ):
        return UpstreamError(
            message, code=CONTEXT_LENGTH_EXCEEDED, param="input", status_code=400, headers=passed
        )
    # A numeric code is the upstream's HTTP status said again (llama-server): no OpenAI code.
    text_code = code if isinstance(code, str) and code and not code.isdigit() else None
    # A 4xx is the caller's problem (unknown model, bad value): keep its status. A 5xx is ours
    # to report as a bad gateway.
    return UpstreamError(
        message,
        code=text_code,
        status_code=status if 400 <= status < 500 else 502,
        headers=passed,
    )
