"""The upstream client as the orchestrator sees it, with each call timed, counted and traced.

A wrapper rather than lines inside ``upstream.py``: that module speaks HTTP to the backend, this
one tells operators about it; the orchestrator cannot tell the two apart (``ChatBackend``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from responses_gateway.errors import GatewayError
from responses_gateway.observability import metrics, tracing
from responses_gateway.observability.record import note_upstream
from responses_gateway.upstream import UpstreamClient


def _request_attributes(payload: dict[str, Any]) -> dict[str, tracing.AttributeValue | None]:
    attributes: dict[str, tracing.AttributeValue | None] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": payload.get("model"),
        "gen_ai.request.temperature": payload.get("temperature"),
        "gen_ai.request.top_p": payload.get("top_p"),
        "gen_ai.request.max_tokens": payload.get("max_tokens")
        or payload.get("max_completion_tokens"),
    }
    if tracing.capture_content:
        import orjson

        attributes["gen_ai.input.messages"] = orjson.dumps(payload.get("messages")).decode()
    return attributes


def _reply_attributes(chunk: dict[str, Any]) -> dict[str, tracing.AttributeValue | None]:
    attributes: dict[str, tracing.AttributeValue | None] = {
        "gen_ai.response.model": chunk.get("model"),
        "gen_ai.response.id": chunk.get("id"),
    }
    choices = chunk.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        reason = choices[0].get("finish_reason")
        if isinstance(reason, str):
            attributes["gen_ai.response.finish_reasons"] = [reason]
    usage = chunk.get("usage")
    if isinstance(usage, dict):
        attributes["gen_ai.usage.input_tokens"] = usage.get("prompt_tokens")
        attributes["gen_ai.usage.output_tokens"] = usage.get("completion_tokens")
    return attributes


def _chat_span(payload: dict[str, Any]) -> contextlib.AbstractContextManager[tracing.Span | None]:
    """Attributes are built only for a recorded span: tracing is off by default. Measured with
    the response span's and ``metrics.count_tokens``'s like changes: a ``store: false`` request
    0.842 -> 0.826 M instructions (callgrind)."""
    if not tracing.active():
        return tracing.span("chat")
    return tracing.span(f"chat {payload.get('model')}", _request_attributes(payload))


def _failed(exc: GatewayError, span: tracing.Span | None) -> None:
    kind = exc.code or f"http_{exc.status_code}"
    metrics.child(metrics.UPSTREAM_ERRORS, kind[:64]).inc()
    tracing.mark_error(span, kind)


class ObservedUpstream:
    def __init__(self, upstream: UpstreamClient) -> None:
        self._upstream = upstream

    async def complete(self, payload: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        with _chat_span(payload) as span:
            try:
                reply = await self._upstream.complete(payload)
            except GatewayError as exc:
                _failed(exc, span)
                raise
            finally:
                _observe("complete", started)
            if span is not None:
                tracing.annotate(span, _reply_attributes(reply))
        return reply

    async def stream(
        self, payload: dict[str, Any], sent: Callable[[], None] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        started = time.perf_counter()
        with _chat_span(payload) as span:
            try:
                async for chunk in self._upstream.stream(payload, sent):
                    if span is not None:
                        tracing.annotate(span, _reply_attributes(chunk))
                    yield chunk
            except GatewayError as exc:
                _failed(exc, span)
                raise
            finally:
                _observe("stream", started)


def _observe(operation: str, started: float) -> None:
    elapsed = time.perf_counter() - started
    metrics.child(metrics.UPSTREAM_SECONDS, operation).observe(elapsed)
    note_upstream(elapsed)
