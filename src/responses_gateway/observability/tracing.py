"""OpenTelemetry traces, on when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``…_TRACES_ENDPOINT``) is set.

The official SDK and its OTLP/HTTP exporter read every other standard ``OTEL_*`` variable
(``OTEL_SERVICE_NAME``, ``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_TRACES_SAMPLER``…) themselves. Off,
``span`` hands back one shared no-op context, and the SDK is never imported (memory, start-up).
Spans carry the GenAI semantic-convention attributes; message content only with
``GATEWAY_OTEL_CAPTURE_CONTENT``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from typing import Any, Protocol

AttributeValue = str | int | float | bool | list[str]


class Span(Protocol):
    def set_attribute(self, key: str, value: AttributeValue) -> None: ...

    def set_status(self, status: Any) -> None: ...


_NO_SPAN: contextlib.nullcontext[None] = contextlib.nullcontext()
_tracer: Any = None
_provider: Any = None
capture_content = False


def enabled_by_environment() -> bool:
    return (
        bool(
            os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
            or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        )
        and os.environ.get("OTEL_SDK_DISABLED", "").lower() != "true"
    )


def configure(*, content: bool) -> None:
    """Set the process's tracer provider up once (the SDK's provider is process-global)."""
    global _tracer, _provider, capture_content
    capture_content = content
    if _provider is not None or not enabled_by_environment():
        return
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": "responses-gateway"} | _service_name())
    _provider = TracerProvider(resource=resource)
    _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(_provider)
    _tracer = trace.get_tracer("responses_gateway")


def _service_name() -> dict[str, str]:
    name = os.environ.get("OTEL_SERVICE_NAME")
    return {"service.name": name} if name else {}


def shutdown() -> None:
    """Flush what is batched (the lifespan's end)."""
    if _provider is not None:
        _provider.force_flush()


def active() -> bool:
    """Whether spans are recorded: callers skip building their attributes when not."""
    return _tracer is not None


def span(
    name: str, attributes: Mapping[str, AttributeValue | None] | None = None
) -> contextlib.AbstractContextManager[Span | None]:
    if _tracer is None:
        return _NO_SPAN
    clean = {k: v for k, v in (attributes or {}).items() if v is not None}
    manager: contextlib.AbstractContextManager[Span] = _tracer.start_as_current_span(
        name, attributes=clean
    )
    return manager


def annotate(target: Span | None, attributes: Mapping[str, AttributeValue | None]) -> None:
    if target is None:
        return
    for key, value in attributes.items():
        if value is not None:
            target.set_attribute(key, value)


def mark_error(target: Span | None, message: str) -> None:
    if target is None:
        return
    from opentelemetry.trace import Status, StatusCode

    target.set_status(Status(StatusCode.ERROR, message))


def usage_attributes(usage: Mapping[str, Any] | None) -> dict[str, AttributeValue | None]:
    if not usage:
        return {}
    return {
        "gen_ai.usage.input_tokens": usage.get("input_tokens"),
        "gen_ai.usage.output_tokens": usage.get("output_tokens"),
    }
