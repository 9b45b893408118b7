"""Benchmark responses-gateway against a fast scripted upstream, all on loopback.

    .venv/bin/python bench/run.py [--quick] [--database sqlite|postgres] [--postgres-url URL]

Layout (2 cores): the gateway alone on core 0 (``taskset -c 0``); this driver, the scripted
chat-completions upstream and the MCP server on core 1. Every phase is bounded by a request count
and a time limit; child processes are stopped on exit, Ctrl-C or error (and get SIGTERM from the
kernel if this driver dies).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
import chain_phase
import codex_request
import mcp_phase
import stream_parsing
import targets
import throughput
import tool_mapping
from long_conversations import compaction_phase
from long_conversations import phase as conversations_phase
from processes import (
    BENCH,
    GATEWAY_BIN,
    HOST,
    PYTHON,
    Children,
    drive_from_core_1,
    free_port,
    gateway_env,
    start_upstream,
    upstream_url,
    wait_http,
    wait_ready_line,
)
from procfs import status_kib
from profiles import FULL, QUICK, Profile
from scratch_database import bench_database
from tables import say


@dataclass(frozen=True)
class Stack:
    """The processes a run measures: the upstream and MCP server on core 1, the gateway on 0."""

    up_port: int
    gw_port: int
    mcp_port: int
    pid: int  # the gateway's


async def start_stack(children: Children, database_url: str) -> Stack:
    gw_port, mcp_port = free_port(), free_port()
    mcp = children.start(
        "mcp", ["taskset", "-c", "1", PYTHON, str(BENCH / "mcp_server.py"), str(mcp_port)]
    )
    up_port = start_upstream(children)
    env = gateway_env(upstream_url(up_port), database_url, GATEWAY_MCP_ALLOW_PRIVATE_NETWORKS="1")
    gateway = children.start(
        "gateway",
        ["taskset", "-c", "0", str(GATEWAY_BIN), "serve", "--host", HOST, "--port", str(gw_port)],
        env=env,
    )
    await wait_http(gw_port, "/healthz", gateway, children, "gateway")
    wait_ready_line(children, "mcp", mcp)
    return Stack(up_port, gw_port, mcp_port, gateway.pid)


def say_layout(args: argparse.Namespace, profile: Profile, stack: Stack) -> None:
    say(
        f"gateway pid {stack.pid} on core 0 (port {stack.gw_port}); upstream :{stack.up_port}, "
        f"MCP :{stack.mcp_port}, driver on core 1; database {args.database}"
    )
    say(
        f"profile: {'quick' if args.quick else 'full'} (throughput phases {profile.phase_seconds:g}s "
        f"or {profile.phase_requests} requests; c=1 phases {profile.c1_requests} requests)"
    )
    say()


def say_title(args: argparse.Namespace) -> None:
    say()
    say("=" * 96)
    say(
        f"responses-gateway benchmark — database: {args.database}, "
        f"{'quick' if args.quick else 'full'} run, gateway pinned to 1 core"
    )
    say("=" * 96)
    say()


async def bench(
    args: argparse.Namespace, profile: Profile, children: Children, database_url: str
) -> None:
    stack = await start_stack(children, database_url)
    say_layout(args, profile, stack)
    port, pid, out = stack.gw_port, stack.pid, args.profile
    measured = await throughput.measure(port, stack.up_port, pid, profile, children, out)
    chains = await chain_phase.measure(port, pid, profile, out)
    await conversations_phase(port, say, count=1 if args.quick else 3)
    await compaction_phase(port, say)
    mcp = await mcp_phase.measure(port, pid, stack.mcp_port, profile, out)
    hwm, rss = status_kib(pid, "VmHWM"), status_kib(pid, "VmRSS")
    children.check_alive()

    say_title(args)
    throughput.report(measured)
    targets.report(measured, chains)
    say(throughput.streamed_summary(measured.first_delta, measured.phases[("streamed", 16)]))
    say()
    throughput.report_overhead(measured)
    chain_phase.report(chains)
    mcp_phase.report(mcp, measured.direct.lat(50))
    say(f"Gateway memory: peak RSS (VmHWM) {hwm / 1024:.1f} MiB, current RSS {rss / 1024:.1f} MiB")
    say()
    await in_loop_figures(args, port, pid)


async def in_loop_figures(args: argparse.Namespace, port: int, pid: int) -> None:
    """The figures after the memory one, on the same gateway, then stream parsing in process."""
    from websocket_loop import report as websocket_report  # after the memory figure: it adds

    await websocket_report(port, pid, loops=3 if args.quick else 20, turns=20)
    say()
    await codex_figure(port, pid, 50 if args.quick else 500)
    say()
    say("Upstream parsing, in process (bench/stream_parsing.py):")
    for line in stream_parsing.figures():
        say(f"  {line}")


async def codex_figure(port: int, pid: int, requests: int) -> None:
    """The Codex-sized request's CPU over a one-word one (``bench/codex_request.py``)."""
    phases = await codex_request.measure(port, pid, requests)
    codex_request.report(phases, len(orjson.dumps(codex_request.codex_body())))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run in < 30 s")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
        help="admin connection used to create and drop a scratch database",
    )
    parser.add_argument(
        "--background", action="store_true", help="then run bench/background.py's phases too"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="record py-spy stacks of the gateway per phase into DIR "
        "(then: python bench/hotspots.py DIR/stored-c16.txt)",
    )
    parser.add_argument("--limits", action="store_true", help="only bench/limits.py's figures")
    return parser.parse_args()


def missing_tool() -> str | None:
    """Why the run cannot start, if it cannot."""
    if not GATEWAY_BIN.exists():
        return f"{GATEWAY_BIN} not found (install the project in this venv)"
    if shutil.which("taskset") is None:
        return "taskset not found (util-linux)"
    return None


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def run_gateway_phases(args: argparse.Namespace, profile: Profile) -> int:
    """Every phase against a gateway; 0, or the exit status of a failed or interrupted run."""
    signal.signal(signal.SIGTERM, _interrupt)
    children = Children()
    try:
        with bench_database(args, children, "bench.db") as database_url:
            try:
                run = bench(args, profile, children, database_url)
                try:
                    import uvloop
                except ImportError:
                    asyncio.run(run)
                else:
                    uvloop.run(run)
            finally:
                children.stop_all()  # before the database is dropped
    except KeyboardInterrupt:
        print("\ninterrupted; child processes stopped", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"\nbenchmark failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    args = parse_args()
    if args.limits:
        import limits

        limits.main()
        return 0
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    profile = QUICK if args.quick else FULL
    problem = missing_tool()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    drive_from_core_1()
    started = time.monotonic()
    failed = run_gateway_phases(args, profile)
    if failed:
        return failed
    import reasoning_phase  # bench/ is on the path when run as a script

    reasoning_phase.main(args.quick)
    for line in tool_mapping.report(200 if args.quick else 2000):  # its own event loop: here
        say(line)
    if args.background:
        import background

        background.run(args)
    say(f"\n(total wall time {time.monotonic() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
