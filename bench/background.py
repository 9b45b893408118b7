"""Benchmark background responses: creates/s, the CPU the event log costs per streamed token,
how fast a cancel stops the upstream call (same replica and across replicas), how long a killed
replica's response takes to end, and PostgreSQL LISTEN/NOTIFY against the cancel poll.

    .venv/bin/python bench/background.py [--quick] [--database sqlite|postgres]
    (or: bench/run.py --background, which runs this after the main phases)

Layout as bench/run.py: gateways on core 0, the driver and upstreams on core 1. Two gateway
processes share the database for the cross-replica figures (on SQLite too: one file, two
processes).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from httpclient import Connection, Result
from loadgen import check_stream, load, pct
from processes import (
    GATEWAY_BIN,
    HOST,
    Children,
    drive_from_core_1,
    free_port,
    gateway_env,
    start_upstream,
    wait_http,
)
from procfs import cpu_seconds
from profiles import FULL, QUICK, Profile
from scratch_database import bench_database
from tables import fmt, say, table

LEASE = 2.0  # seconds, for the takeover figure
POLL = 0.25  # GATEWAY_BACKGROUND_POLL_INTERVAL's default


def body(**fields: Any) -> bytes:
    return orjson.dumps({"model": "bench", "input": "hello", **fields})


def check_queued(result: Result) -> None:
    if result.status != 200 or result.json().get("status") != "queued":
        raise RuntimeError(f"background create: HTTP {result.status}: {result.body[:300]!r}")


# ----------------------------------------------------------------------------- a slow upstream


@dataclass
class SlowUpstream:
    """Streams a chunk every 10 ms for a minute, in the driver's own loop, and notes when the
    gateway closes the connection: that is when the upstream call stopped."""

    port: int
    started: asyncio.Event
    stopped_at: float = 0.0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        await reader.readexactly(length)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"
        )
        self.started.set()
        chunk = {"choices": [{"index": 0, "delta": {"content": "tok "}, "finish_reason": None}]}
        frame = b"data: " + orjson.dumps(chunk) + b"\n\n"

        async def feed() -> None:
            for _ in range(6000):
                if writer.is_closing():
                    return
                writer.write(frame)
                await asyncio.sleep(0.01)

        feeding = asyncio.ensure_future(feed())
        with contextlib.suppress(ConnectionError):
            await reader.read()  # EOF: the gateway hung up (or died)
        self.stopped_at = time.perf_counter()
        feeding.cancel()
        writer.close()


@contextlib.asynccontextmanager
async def slow_upstream() -> AsyncIterator[SlowUpstream]:
    upstream = SlowUpstream(free_port(), asyncio.Event())
    server = await asyncio.start_server(upstream.handle, HOST, upstream.port)
    async with server:
        yield upstream


# ----------------------------------------------------------------------------- gateways


async def start_gateway(
    children: Children, name: str, database_url: str, upstream_url: str, **settings: str
) -> tuple[int, int]:
    port = free_port()
    env = gateway_env(
        upstream_url,
        database_url,
        GATEWAY_BACKGROUND_MAX_QUEUED="1000000",
        **{f"GATEWAY_BACKGROUND_{key.upper()}": value for key, value in settings.items()},
    )
    argv = ["taskset", "-c", "0", str(GATEWAY_BIN), "serve", "--host", HOST, "--port", str(port)]
    proc = children.start(name, argv, env=env)
    await wait_http(port, "/readyz", proc, children, name)
    return port, proc.pid


async def request(port: int, method: str, path: str, payload: bytes | None = None) -> Result:
    conn = Connection(HOST, port)
    try:
        return await conn.request(method, path, payload)
    finally:
        conn.close()


async def wait_status(port: int, response_id: str, wanted: set[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await request(port, "GET", f"/v1/responses/{response_id}")
        if result.json()["status"] in wanted:
            return
        await asyncio.sleep(0.01)
    raise RuntimeError(f"{response_id} never reached {wanted}")


async def holder_pid(database_url: str, response_id: str) -> int | None:
    """The pid of the replica holding the job's lease (replica ids carry it)."""
    sql = "SELECT lease_owner FROM background_jobs WHERE response_id = "
    if database_url.startswith("sqlite"):
        with contextlib.closing(sqlite3.connect(database_url.split("///", 1)[1])) as db:
            row = db.execute(sql + "?", (response_id,)).fetchone()
        owner = row[0] if row else None
    else:
        import asyncpg

        conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            owner = await conn.fetchval(sql + "$1", response_id)
        finally:
            await conn.close()
    return int(owner.split("-")[-2]) if owner else None


# ----------------------------------------------------------------------------- phases


async def creates(port: int, pid: int, profile: Profile) -> list[list[str]]:
    """Background creates/s at c=16 (answered queued), then the time to run them all."""
    await load("warmup", port, "/v1/responses", body(background=True), concurrency=4,
               requests=profile.warmup, seconds=30, stream=False, check=check_queued)  # fmt: skip
    cpu0 = cpu_seconds(pid)
    phase = await load(
        "background creates", port, "/v1/responses", body(background=True), concurrency=16,
        requests=profile.phase_requests // 2, seconds=profile.phase_seconds, stream=False,
        check=check_queued, pid=pid,
    )  # fmt: skip
    started = time.perf_counter()
    await wait_status(port, phase.results[-1].json()["id"], {"completed"}, timeout=300)
    drained = time.perf_counter() - started
    total = phase.seconds + drained
    cpu_ms = (cpu_seconds(pid) - cpu0) / len(phase.results) * 1000
    return [
        ["background creates/s, c=16 (answered `queued`)", fmt(phase.rps, 0)],
        ["p50 / p99 create latency (ms)", f"{fmt(phase.lat(50), 1)} / {fmt(phase.lat(99), 1)}"],
        ["all of them run to `completed` in (s); responses/s",
         f"{fmt(total, 1)}; {fmt(len(phase.results) / total, 0)}"],
        ["gateway CPU per background response, create and run (ms)", fmt(cpu_ms)],
    ]  # fmt: skip


async def token_cost(port: int, pid: int, profile: Profile) -> list[list[str]]:
    """Gateway CPU of streamed creates, foreground against background (events logged), at 20
    and 400 tokens: the difference of the differences is the log's cost per extra token."""
    count = max(profile.c1_requests // 4, 40)
    cpu: dict[tuple[bool, int], float] = {}
    for tokens in (20, 400):
        for background in (False, True):
            payload = body(stream=True, background=background, max_output_tokens=tokens)
            phase = await load(
                "tokens", port, "/v1/responses", payload, concurrency=4, requests=count,
                seconds=120, stream=True, check=check_stream, pid=pid,
            )  # fmt: skip
            cpu[background, tokens] = (phase.cpu_ms_per_request or 0.0) * 1000  # µs
    extra_20 = cpu[True, 20] - cpu[False, 20]
    extra_400 = cpu[True, 400] - cpu[False, 400]
    per_token = (extra_400 - extra_20) / 380
    return [
        ["CPU per streamed create, 20 tokens: foreground / background (ms)",
         f"{fmt(cpu[False, 20] / 1000)} / {fmt(cpu[True, 20] / 1000)}"],
        ["CPU per streamed create, 400 tokens: foreground / background (ms)",
         f"{fmt(cpu[False, 400] / 1000)} / {fmt(cpu[True, 400] / 1000)}"],
        ["extra CPU per streamed token when events are logged (µs)", fmt(per_token, 1)],
    ]  # fmt: skip


@dataclass
class Replicas:
    """Gateways on one database behind the slow upstream, by pid (their replica ids carry it)."""

    children: Children
    database_url: str
    upstream: SlowUpstream
    ports: dict[int, int] = field(default_factory=dict)  # pid -> port

    async def start(self, name: str) -> None:
        url = f"http://{HOST}:{self.upstream.port}/v1"
        port, pid = await start_gateway(
            self.children, name, self.database_url, url, lease=str(LEASE)
        )
        self.ports[pid] = port

    async def running(self) -> tuple[str, int, int]:
        """A response running on one replica: (id, runner's pid, the other's port)."""
        self.upstream.started.clear()
        first = next(iter(self.ports.values()))
        created = (await request(first, "POST", "/v1/responses", body(background=True))).json()
        await asyncio.wait_for(self.upstream.started.wait(), 30)
        pid = await holder_pid(self.database_url, created["id"])
        assert pid in self.ports, "the job is held by no known replica"
        other = next(port for p, port in self.ports.items() if p != pid)
        return created["id"], pid, other


async def cancels_and_takeover(
    database_url: str, children: Children, profile: Profile
) -> list[list[str]]:
    """From POST /cancel to the upstream connection closing, on the runner and on the other
    replica (which only sets the flag the runner polls); then SIGKILL the runner of a response
    and time how long the other replica takes to end it."""
    async with slow_upstream() as upstream:
        replicas = Replicas(children, database_url, upstream)
        for name in ("a", "b"):
            await replicas.start(name)
        delays = await cancel_delays(replicas, max(profile.mcp_requests // 3, 6))
        ended = await takeovers(replicas, 3)
    rows = [
        [f"cancel → upstream call stopped, cancel sent to the {where}, p50 / max (ms)",
         f"{fmt(pct(values, 50), 1)} / {fmt(max(values), 1)}"]
        for where, values in delays.items()
    ]  # fmt: skip
    rows.append(
        [f"SIGKILL of the runner → `failed` on the other replica, lease {LEASE:g} s (s)",
         " / ".join(fmt(value, 2) for value in ended)]
    )  # fmt: skip
    return rows


async def cancel_delays(replicas: Replicas, count: int) -> dict[str, list[float]]:
    """ms from POST /cancel to the upstream call stopping, sent to the runner or the other."""
    delays: dict[str, list[float]] = {"runner": [], "other": []}
    for n in range(count):
        where = "runner" if n % 2 else "other"
        response_id, pid, other = await replicas.running()
        await asyncio.sleep(0.05 + 0.3 * (n % 4) / 4)  # anywhere in the poll cycle
        target = replicas.ports[pid] if where == "runner" else other
        asked = time.perf_counter()
        answer = await request(target, "POST", f"/v1/responses/{response_id}/cancel")
        if answer.json().get("status") != "cancelled":
            raise RuntimeError(f"cancel: {answer.body[:300]!r}")
        delays[where].append((replicas.upstream.stopped_at - asked) * 1000)
    return delays


async def takeovers(replicas: Replicas, count: int) -> list[float]:
    """Seconds from SIGKILL of a response's runner to `failed` on the other replica; each killed
    replica is replaced by a new one."""
    ended: list[float] = []
    for n in range(count):
        response_id, pid, other = await replicas.running()
        await asyncio.sleep(0.5)  # some events logged: it will end failed, not rerun
        os.kill(pid, signal.SIGKILL)
        killed = time.perf_counter()
        await wait_status(other, response_id, {"failed"})
        ended.append(time.perf_counter() - killed)
        del replicas.ports[pid]
        await replicas.start(f"restarted-{n}")
    return ended


async def notify_against_poll(database_url: str) -> list[list[str]]:
    """What LISTEN/NOTIFY would give (delivery time of one notification) against what the
    poll costs (one cancel-flag query per tick per replica while it runs jobs)."""
    import asyncpg

    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
    listener, sender = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    arrived: asyncio.Queue[float] = asyncio.Queue()
    await listener.add_listener("bench_cancel", lambda *_: arrived.put_nowait(time.perf_counter()))
    latencies, polls = [], []
    query = (
        "SELECT response_id FROM background_jobs "
        "WHERE lease_owner = $1 AND status = 'in_progress' AND cancel_requested"
    )
    try:
        for _ in range(200):
            sent = time.perf_counter()
            await sender.execute("NOTIFY bench_cancel, 'resp_x'")
            latencies.append((await arrived.get() - sent) * 1000)
            started = time.perf_counter()
            await sender.fetch(query, "nobody")
            polls.append((time.perf_counter() - started) * 1000)
    finally:
        await listener.close()
        await sender.close()
    return [
        ["LISTEN/NOTIFY: NOTIFY → listener, p50 (ms)", fmt(pct(latencies, 50), 2)],
        [f"poll: one cancel-flag query, p50 (ms); waits {POLL * 1000:.0f} ms at most",
         fmt(pct(polls, 50), 2)],
    ]  # fmt: skip


# ----------------------------------------------------------------------------- main


async def bench(args: argparse.Namespace, children: Children, database_url: str) -> None:
    """``children`` keeps the SQLite file; each phase's processes have their own ``Children``."""
    profile = QUICK if args.quick else FULL
    fast = Children()
    try:
        up_port = start_upstream(fast)
        upstream_url = f"http://{HOST}:{up_port}/v1"
        port, pid = await start_gateway(fast, "gateway", database_url, upstream_url)
        say(f"background benchmark, database {args.database}, gateway pid {pid} on core 0")
        rows = await creates(port, pid, profile)
        rows += await token_cost(port, pid, profile)
    finally:
        fast.stop_all()
    slow = Children()
    try:
        rows += await cancels_and_takeover(database_url, slow, profile)
    finally:
        slow.stop_all()
    if args.database == "postgres":
        rows += await notify_against_poll(database_url)
    say()
    say(table(["figure", args.database], rows))


def run(args: argparse.Namespace) -> None:
    """Every phase, on a database of its own (``args``: quick, database, postgres_url)."""
    drive_from_core_1()
    children = Children()
    with bench_database(args, children, "background.db") as database_url:
        try:
            asyncio.run(bench(args, children, database_url))
        finally:
            children.stop_all()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    run(parser.parse_args())
    return 0


if __name__ == "__main__":
    sys.exit(main())
