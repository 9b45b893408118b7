"""What the request limits cost, in process (no sockets): the body middleware, strict
validation, decompression, and refusing an oversized input.

    .venv/bin/python bench/limits.py      (or: bench/run.py --limits)

The end-to-end CPU per request in ``bench/run.py`` includes all of this; these figures say how
much of it is the limits' share.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import time
from collections.abc import Callable
from typing import Any

import orjson
import zstandard
from starlette.types import Message, Receive, Scope, Send

from responses_gateway.api.limits import (
    Limits,
    RequestBodies,
    _with_item_limit,
)
from responses_gateway.errors import InvalidRequest
from responses_gateway.schemas.conversations import CreateItemsRequest
from responses_gateway.schemas.request import CreateResponseRequest

LIMITS = Limits(max_request_bytes=32 * 1024 * 1024, max_input_items=10_000)
PLAIN = orjson.dumps({"model": "bench", "input": "hello"})
CODEX_LIKE = orjson.dumps(
    {
        "model": "bench",
        "instructions": "x" * 30_000,
        "tools": [
            {"type": "function", "name": f"tool_{n}", "parameters": {"type": "object"}}
            for n in range(40)
        ],
        "input": [{"role": "user", "content": f"message {n} " * 20} for n in range(100)],
        "store": False,
    }
)


def per_call_us(work: Callable[[], Any], seconds: float = 0.5) -> float:
    work()
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        work()
        count += 1
    return (time.perf_counter() - started) / count * 1e6


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()


def asgi_us(app: Any, body: bytes, encoding: bytes = b"", calls: int = 5000) -> float:
    """Microseconds per request through ``app``, all calls in one coroutine (no loop overhead)."""
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    if encoding:
        headers.append((b"content-encoding", encoding))
    scope = {"type": "http", "method": "POST", "headers": headers}

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(_message: Message) -> None:
        return None

    async def run() -> float:
        started = time.perf_counter()
        for _ in range(calls):
            await app(scope, receive, send)
        return (time.perf_counter() - started) / calls * 1e6

    return asyncio.run(run())


def _conversation_items(body: bytes) -> Any:
    return CreateItemsRequest.model_validate_json(body)


def main() -> None:
    wrapped = RequestBodies(_app, LIMITS)
    model = _with_item_limit(CreateResponseRequest, LIMITS.max_input_items)
    rows = [
        ("ASGI call, no middleware (100 B body)", asgi_us(_app, PLAIN)),
        ("ASGI call through RequestBodies (100 B)", asgi_us(wrapped, PLAIN)),
        ("… (31 KB Codex-like body)", asgi_us(wrapped, CODEX_LIKE)),
        ("… gzip, decompressed (31 KB)", asgi_us(wrapped, gzip.compress(CODEX_LIKE), b"gzip")),
        ("… zstd, decompressed (31 KB)", asgi_us(wrapped, zstandard.compress(CODEX_LIKE), b"zstd")),
        (
            "validate the bench's plain create",
            per_call_us(lambda: model.model_validate_json(PLAIN)),
        ),
        (
            "validate a Codex-like create (40 tools, 100 items)",
            per_call_us(lambda: model.model_validate_json(CODEX_LIKE)),
        ),
    ]
    item = {"role": "user", "content": "x"}
    for name, key, items, parse in (
        ("refuse 200,000 items (limit 10,000)", "input", 200_000, model.model_validate_json),
        ("validate 10,000 items", "input", 10_000, model.model_validate_json),
        ("refuse 200,000 conversation items (limit 20)", "items", 200_000, _conversation_items),
    ):
        body = orjson.dumps({"model": "m", key: [item] * items})
        started = time.perf_counter()
        with contextlib.suppress(ValueError, InvalidRequest):
            parse(body)
        rows.append((name + f", {len(body) // 1024} KiB", (time.perf_counter() - started) * 1e6))
    width = max(len(name) for name, _ in rows)
    for name, micros in rows:
        shown = f"{micros / 1000:8.1f} ms" if micros >= 1000 else f"{micros:8.1f} µs"
        print(f"{name:<{width}}  {shown}")


if __name__ == "__main__":
    main()
