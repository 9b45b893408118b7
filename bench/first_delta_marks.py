"""Where a stream's first text delta goes: clock marks inside the gateway, c=1, p50 of each step.

    .venv/bin/python bench/first_delta_marks.py [--requests 2000] [--unstored] [--database URL]

The gateway runs on core 0 with its steps wrapped (this script imports it as ``serve`` and patches
the functions below before it starts; the gateway's code is not changed), the scripted upstream
on core 1, and the requests go one at a time from core 1. A step is the time from one mark to the
next: the request's first bytes reaching uvicorn, the access layer, the body parsed, the turn
prepared, the event stream started, the orchestrator, the upstream request written, its first
bytes back, the first delta written. The wrappers add a little to each step; compare steps, not
the total with ``side_by_side.py``'s.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import DELTA, STREAMED, UNSTORED_STREAM, load
from processes import (
    HOST,
    Children,
    drive_from_core_1,
    free_port,
    gateway_env,
    start_upstream,
    upstream_url,
    wait_http,
)

MARKS = ["request", "access", "parse", "parsed", "prepare", "prepared", "stream", "orchestrate",
         "upstream written", "upstream answered", "first delta written"]  # fmt: skip
WARM_UP = 300


def _wrap_async(
    owner: Any, name: str, before: str, after: str | None, mark: Callable[..., None]
) -> None:
    original = getattr(owner, name)

    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        mark(before)
        result = await original(*args, **kwargs)
        if after:
            mark(after)
        return result

    setattr(owner, name, wrapped)


def on_stream_points(
    request: Callable[[], None],
    written: Callable[[], None],
    answered: Callable[[], None],
    delta_sent: Callable[[], None],
) -> None:
    """Calls back at the points of a stream's way to its first delta: a request's first bytes
    reaching uvicorn, the upstream request about to be written, each of the upstream's reads,
    and each body sent to the client with a text delta in it, once it is sent."""
    from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

    from responses_gateway import upstream_http
    from responses_gateway.http_server import GuardedHttpToolsProtocol

    request_bytes = GuardedHttpToolsProtocol.data_received
    reset = upstream_http._Connection.reset
    answer_bytes = upstream_http._Connection.data_received
    send = RequestResponseCycle.send

    def request_arrives(self: Any, data: bytes) -> None:
        if data.startswith(b"POST"):
            request()
        request_bytes(self, data)

    def upstream_written(self: Any) -> None:  # reset() is the last step before the write
        written()
        reset(self)

    def answer_arrives(self: Any, data: bytes) -> None:
        answered()
        answer_bytes(self, data)

    async def sent(self: Any, message: Any) -> None:
        await send(self, message)
        if b"output_text.delta" in message.get("body", b""):
            delta_sent()

    GuardedHttpToolsProtocol.data_received = request_arrives  # type: ignore[method-assign]
    upstream_http._Connection.reset = upstream_written  # type: ignore[method-assign]
    upstream_http._Connection.data_received = answer_arrives  # type: ignore[method-assign]
    RequestResponseCycle.send = sent  # type: ignore[method-assign]


def _patch(current: dict[str, int], rows: list[dict[str, int]]) -> None:
    """Marks set once per request; requests come one at a time, so one dict holds them."""
    import responses_gateway.api.responses as routes
    from responses_gateway.observability.access import AccessLayer
    from responses_gateway.orchestrator.turn_loop import Orchestrator
    from responses_gateway.service.responses_service import ResponsesService
    from responses_gateway.sse import EventStreamResponse

    def mark(name: str) -> None:
        current.setdefault(name, time.perf_counter_ns())

    def request_starts() -> None:
        current.clear()
        mark("request")

    def first_delta() -> None:
        if "first delta written" not in current:
            mark("first delta written")
            rows.append(dict(current))

    on_stream_points(
        request_starts,
        lambda: mark("upstream written"),
        lambda: mark("upstream answered"),
        first_delta,
    )
    _wrap_async(AccessLayer, "__call__", "access", None, mark)
    _wrap_async(routes, "parse_body", "parse", "parsed", mark)
    _wrap_async(ResponsesService, "prepare", "prepare", "prepared", mark)
    _wrap_async(EventStreamResponse, "__call__", "stream", None, mark)
    _wrap_async(Orchestrator, "run", "orchestrate", None, mark)


def serve(out: str, argv: list[str]) -> None:
    """The gateway, marked; its rows written to ``out`` when it exits."""
    current: dict[str, int] = {}
    rows: list[dict[str, int]] = []
    _patch(current, rows)
    serve_patched(out, argv, lambda: rows)


def serve_patched(out: str, argv: list[str], results: Callable[[], object]) -> None:
    """The gateway in this process, patched by the caller before; ``results()`` written to
    ``out`` as JSON when it exits."""
    atexit.register(lambda: Path(out).write_bytes(orjson.dumps(results())))
    sys.argv = ["responses-gateway", *argv]
    from responses_gateway.cli import main

    main()


async def drive_patched(
    script: str, out: Path, extra: list[str], body: bytes, requests: int, database: str | None
) -> None:
    """``script serve OUT EXTRA… serve …`` as the gateway on core 0, the scripted upstream on
    core 1, ``requests`` streams of ``body`` one at a time from core 1; then SIGINT, so that the
    gateway writes what it recorded."""
    from side_by_side import exact_stream

    children = Children()
    try:
        up = start_upstream(children)
        port = free_port()
        argv = ["taskset", "-c", "0", sys.executable, script, "serve", str(out), *extra,
                "serve", "--host", HOST, "--port", str(port)]  # fmt: skip
        env = gateway_env(upstream_url(up), database or f"sqlite:///{out}.db")
        gateway = children.start("gateway", argv, env=env)
        await wait_http(port, "/healthz", gateway, children, "gateway")
        await load("patched", port, "/v1/responses", body, concurrency=1, requests=requests,
                   seconds=600, stream=True, check=exact_stream, marker=DELTA)  # fmt: skip
        os.kill(gateway.pid, signal.SIGINT)
        gateway.wait(timeout=30)
    finally:
        children.stop_all()


def report(rows: list[dict[str, int]]) -> None:
    rows = rows[WARM_UP:]
    marks = [name for name in MARKS if all(name in row for row in rows)]
    print(f"{len(rows)} streams, p50 of each step:\n\n| from | to | µs |\n|---|---|---|")
    for start, end in zip(marks, marks[1:], strict=False):
        took = statistics.median((row[end] - row[start]) / 1000 for row in rows)
        print(f"| {start} | {end} | {took:.0f} |")
    total = statistics.median((row[marks[-1]] - row[marks[0]]) / 1000 for row in rows)
    print(f"| {marks[0]} | {marks[-1]} | {total:.0f} |")


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3:])
        return 0
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--unstored", action="store_true", help="stream with store: false")
    parser.add_argument("--database", help="the gateway's database URL (default: a new SQLite)")
    args = parser.parse_args()
    drive_from_core_1()
    with tempfile.TemporaryDirectory(prefix="first-delta-marks-") as tmp:
        out = Path(tmp) / "marks.json"
        body = UNSTORED_STREAM if args.unstored else STREAMED
        asyncio.run(drive_patched(__file__, out, [], body, args.requests + WARM_UP, args.database))
        report(orjson.loads(out.read_bytes()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
