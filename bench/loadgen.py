"""Load generation: the request bodies, closed-loop load on keep-alive connections, the checks
every answer must pass, and percentiles of what was measured."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from httpclient import Connection, Result
from processes import HOST
from procfs import cpu_seconds, thread_cpu_seconds

PLAIN = orjson.dumps({"model": "bench", "input": "hello"})
UNSTORED = orjson.dumps({"model": "bench", "input": "hello", "store": False})
STREAMED = orjson.dumps({"model": "bench", "input": "hello", "stream": True})
UNSTORED_STREAM = orjson.dumps({"model": "bench", "input": "hello", "stream": True, "store": False})
DELTA = b"response.output_text.delta"  # marks a stream's first text delta
CHAT = orjson.dumps({"model": "bench", "messages": [{"role": "user", "content": "hello"}]})
CHAT_STREAM = orjson.dumps(
    {
        "model": "bench",
        "messages": [{"role": "user", "content": "hello"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


@dataclass
class Phase:
    name: str
    concurrency: int
    results: list[Result]
    seconds: float
    cpu: float | None = None  # gateway CPU seconds over the phase
    cpu_main: float | None = None  # of which the main (event loop) thread

    @property
    def rps(self) -> float:
        return len(self.results) / self.seconds if self.seconds else 0.0

    def lat(self, q: float) -> float:
        return pct([r.latency for r in self.results], q) * 1000

    def ttfe(self, q: float) -> float:
        return pct([r.ttfe for r in self.results if r.ttfe is not None], q) * 1000

    @property
    def main_share(self) -> float | None:
        if not self.cpu or self.cpu_main is None:
            return None
        return 100 * self.cpu_main / self.cpu

    @property
    def cpu_ms_per_request(self) -> float | None:
        if self.cpu is None or not self.results:
            return None
        return self.cpu / len(self.results) * 1000


Check = Callable[[Result], None]


def check_json(result: Result) -> None:
    if result.status != 200:
        raise RuntimeError(f"HTTP {result.status}: {result.body[:500]!r}")


def check_response(result: Result) -> None:
    check_json(result)
    body = result.json()
    if body.get("status") != "completed":
        raise RuntimeError(f"response not completed: {result.body[:500]!r}")


def check_stream(result: Result) -> None:
    if result.status != 200:
        raise RuntimeError(f"HTTP {result.status}: {result.body[:500]!r}")
    if (
        not result.body.rstrip().endswith(b"data: [DONE]")
        or b"response.completed" not in result.body
    ):
        raise RuntimeError(f"stream did not complete: ...{result.body[-400:]!r}")


def check_chat_stream(result: Result) -> None:
    if result.status != 200 or not result.body.rstrip().endswith(b"data: [DONE]"):
        raise RuntimeError(f"upstream stream broken: {result.body[-200:]!r}")


async def load(
    name: str,
    port: int,
    path: str,
    body: bytes | None,
    *,
    concurrency: int,
    requests: int,
    seconds: float,
    stream: bool,
    check: Check,
    pid: int | None = None,
    method: str = "POST",
    marker: bytes = b"event:",
) -> Phase:
    """Closed loop: ``concurrency`` workers, each on its own keep-alive connection; a stream's
    ``ttfe`` is when ``marker`` first arrived."""
    conns = [Connection(HOST, port, marker) for _ in range(concurrency)]
    results: list[Result] = []
    remaining = requests
    deadline = 0.0

    async def worker(conn: Connection) -> None:
        nonlocal remaining
        while remaining > 0 and time.perf_counter() < deadline:
            remaining -= 1
            result = await conn.request(method, path, body, stream=stream)
            check(result)
            results.append(result)

    # open every connection before the clock starts
    await asyncio.gather(*(c._connect() for c in conns))
    cpu0 = cpu_seconds(pid) if pid else None
    main0 = thread_cpu_seconds(pid)[0] if pid else None
    started = time.perf_counter()
    deadline = started + seconds
    try:
        await asyncio.gather(*(worker(c) for c in conns))
    finally:
        for conn in conns:
            conn.close()
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu0 if pid and cpu0 is not None else None
    main = thread_cpu_seconds(pid)[0] - main0 if pid and main0 is not None else None
    return Phase(name, concurrency, results, elapsed, cpu, main)


async def sequential(
    port: int, bodies: Callable[[int], bytes], count: int, check: Check
) -> list[Result]:
    conn = Connection(HOST, port)
    out = []
    try:
        for i in range(count):
            result = await conn.request("POST", "/v1/responses", bodies(i))
            check(result)
            out.append(result)
    finally:
        conn.close()
    return out
