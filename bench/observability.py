"""What the operating layer costs a request: the access layer (request id, request record,
request metrics, the log check) and a response's own samples (tokens, store and upstream
timings), timed in-process around an ASGI app that does nothing, so the figure is the layer's
alone and does not drown in the noise of a loopback benchmark.

    .venv/bin/python bench/observability.py [--requests N]

Prints microseconds of CPU per request with the layer and without it, and the difference.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from responses_gateway.lifecycle import Lifecycle
from responses_gateway.observability import metrics
from responses_gateway.observability.access import AccessLayer
from responses_gateway.observability.observed_upstream import _observe
from responses_gateway.observability.spans import finished, store_operation

_RESPONSE = {
    "id": "resp_bench",
    "model": "bench",
    "status": "completed",
    "usage": {"input_tokens": 30, "output_tokens": 8, "input_tokens_details": {"cached_tokens": 4}},
}
_SCOPE: dict[str, Any] = {
    "type": "http",
    "method": "POST",
    "path": "/v1/responses",
    "headers": [(b"content-type", b"application/json"), (b"x-request-id", b"bench-1")],
}


async def _endpoint(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def _observed_endpoint(scope: Any, receive: Any, send: Any) -> None:
    """What a stored create adds inside the app: one upstream and one store timing, the
    response's facts (tokens) noted for the layer."""
    _observe("complete", time.perf_counter())
    with store_operation("save"):
        pass
    finished(None, _RESPONSE)
    await _endpoint(scope, receive, send)


async def _send(_message: Any) -> None:
    return None


async def _receive() -> Any:
    return {"type": "http.request", "body": b""}


async def _cpu_per_request(app: Any, requests: int) -> float:
    for _ in range(1000):  # warm-up: label children created, code paths hot
        await app(dict(_SCOPE), _receive, _send)
    started = time.process_time()
    for _ in range(requests):
        await app(dict(_SCOPE), _receive, _send)
    return (time.process_time() - started) / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=50_000)
    args = parser.parse_args()
    metrics.model_label("bench")
    bare = asyncio.run(_cpu_per_request(_endpoint, args.requests))
    layered = asyncio.run(
        _cpu_per_request(AccessLayer(_observed_endpoint, Lifecycle()), args.requests)
    )
    print(f"requests timed:                 {args.requests}")
    print(f"bare ASGI call:                 {bare:7.1f} µs CPU")
    print(f"with the operating layer:       {layered:7.1f} µs CPU")
    print(f"the layer's cost per request:   {layered - bare:7.1f} µs CPU")


if __name__ == "__main__":
    main()
