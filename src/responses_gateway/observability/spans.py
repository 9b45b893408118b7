"""The spans and timings the service opens: one per response, one per store operation."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from responses_gateway.observability import metrics, tracing
from responses_gateway.observability.record import note_response


def response_span(model: str, response_id: str) -> contextlib.AbstractContextManager[Any]:
    if not tracing.active():
        return tracing.span("responses.create")  # no attributes to build
    return tracing.span(
        "responses.create",
        {
            "gen_ai.operation.name": "responses",
            "gen_ai.request.model": model,
            "gen_ai.response.id": response_id,
        },
    )


def finished(span: tracing.Span | None, response: dict[str, Any]) -> None:
    """The final Response: its facts go to the request log and metrics, and to the span."""
    note_response(response)
    if span is None:
        return
    tracing.annotate(
        span,
        {"gateway.response.status": response.get("status")}
        | tracing.usage_attributes(response.get("usage")),
    )
    if response.get("status") == "failed":
        error = response.get("error") or {}
        tracing.mark_error(span, str(error.get("code") or "failed"))


@contextlib.contextmanager
def store_operation(operation: str) -> Iterator[None]:
    started = time.perf_counter()
    with tracing.span(f"store.{operation}", {"db.operation.name": operation}):
        try:
            yield
        finally:
            metrics.child(metrics.STORE_SECONDS, operation).observe(time.perf_counter() - started)


def mcp_span(operation: str, server_label: str, tool: str | None = None) -> Any:
    return tracing.span(
        f"mcp.{operation}",
        {"gateway.mcp.server_label": server_label, "gen_ai.tool.name": tool},
    )


def mcp_outcome(
    operation: str, server_label: str, ok: bool, span: tracing.Span | None = None
) -> None:
    counter = metrics.MCP_CALLS if operation == "call_tool" else metrics.MCP_LISTINGS
    metrics.child(counter, server_label[:128], "ok" if ok else "error").inc()
    if not ok:
        tracing.mark_error(span, f"mcp {operation} failed")
