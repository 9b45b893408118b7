"""Prometheus metrics (``prometheus-client``), served at ``/metrics``.

With several worker processes (``serve --workers N``) the CLI points ``PROMETHEUS_MULTIPROC_DIR``
at a fresh directory before the workers start, so every worker writes its samples there and any
worker's ``/metrics`` answers for all of them (the library's multiprocess mode). A single process
keeps them in memory. Each sample costs about a microsecond, so nothing here is measurable per
request (see ``bench/``).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

_LATENCY = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    120,
    300,
)
_FAST = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)

REQUESTS = Counter(
    "gateway_requests", "HTTP requests answered", ["route", "method", "status", "streamed"]
)
REQUEST_SECONDS = Histogram(
    "gateway_request_duration_seconds",
    "Whole request, from the first byte read to the last byte sent",
    ["route", "streamed"],
    buckets=_LATENCY,
)
FIRST_EVENT_SECONDS = Histogram(
    "gateway_time_to_first_event_seconds",
    "Streamed requests: from the request to the first event sent",
    ["route"],
    buckets=_LATENCY,
)
UPSTREAM_SECONDS = Histogram(
    "gateway_upstream_request_duration_seconds",
    "One call to the chat-completions backend, to its last byte",
    ["operation"],
    buckets=_LATENCY,
)
UPSTREAM_ERRORS = Counter(
    "gateway_upstream_errors", "Calls to the backend that failed, by kind", ["kind"]
)
STORE_SECONDS = Histogram(
    "gateway_store_duration_seconds",
    "Database work on the request path",
    ["operation"],
    buckets=_FAST,
)
TOKENS = Counter(
    "gateway_tokens", "Tokens reported by the backend, by model and kind", ["model", "kind"]
)
MCP_CALLS = Counter(
    "gateway_mcp_calls", "MCP tool calls run by the gateway", ["server_label", "outcome"]
)
MCP_LISTINGS = Counter(
    "gateway_mcp_listings", "MCP servers listed by the gateway", ["server_label", "outcome"]
)
HISTORY_CACHE = Counter(
    "gateway_history_cache_lookups", "Chained turns looked up in memory", ["result"]
)
IN_FLIGHT = Gauge(
    "gateway_requests_in_flight", "Requests being answered", multiprocess_mode="livesum"
)
STREAMS = Gauge(
    "gateway_streams_in_flight", "Event streams being sent", multiprocess_mode="livesum"
)
WEBSOCKETS = Gauge(
    "gateway_websocket_connections", "Open WebSocket connections", multiprocess_mode="livesum"
)
BACKGROUND_JOBS = Gauge(
    "gateway_background_jobs",
    "Background responses this process is running",
    multiprocess_mode="livesum",
)

_children: dict[tuple[int, tuple[str, ...]], Any] = {}
_MAX_CHILDREN = 10_000


def child(metric: Any, *values: str) -> Any:
    """``metric.labels(*values)``, remembered: the library's lookup (a lock, a tuple, a dict)
    was the largest cost of a request's samples (measured in bench/observability.py)."""
    key = (id(metric), values)
    found = _children.get(key)
    if found is None:
        found = metric.labels(*values)
        if len(_children) < _MAX_CHILDREN:
            _children[key] = found
    return found


_MAX_LABEL = 128
_MAX_MODELS = 200
_models: set[str] = set()
_models_lock = threading.Lock()


def model_label(model: str | None) -> str:
    """A client names the model: bound the label's length and the number of distinct values,
    so a client cannot grow the metrics without limit."""
    if not model:
        return "unknown"
    label = model[:_MAX_LABEL]
    if label in _models:
        return label
    with _models_lock:
        if len(_models) >= _MAX_MODELS:
            return "other"
        _models.add(label)
    return label


_TOKEN_KINDS = ("input", "output", "cached", "reasoning")
_token_children: dict[str, list[Any]] = {}  # by model label, in _TOKEN_KINDS order


def count_tokens(model: str | None, usage: dict[str, object] | None) -> None:
    """Children looked up once per model and made only when a kind is first counted (a series
    at zero would be new output). The four ``child`` lookups were ~40% of this (cProfile)."""
    if not usage:
        return
    label = model_label(model)
    details = usage.get("input_tokens_details")
    out_details = usage.get("output_tokens_details")
    counts = (
        usage.get("input_tokens"),
        usage.get("output_tokens"),
        details.get("cached_tokens") if isinstance(details, dict) else None,
        out_details.get("reasoning_tokens") if isinstance(out_details, dict) else None,
    )
    children = _token_children.get(label)
    if children is None:
        children = _token_children.setdefault(label, [None] * len(_TOKEN_KINDS))
    for index, value in enumerate(counts):
        if isinstance(value, int) and value > 0:
            found = children[index]
            if found is None:
                found = children[index] = TOKENS.labels(label, _TOKEN_KINDS[index])
            found.inc(value)


def exposition() -> tuple[bytes, str]:
    """The text format, for this process or, in multiprocess mode, for every worker."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
