"""Instructions the gateway executes per request, counted by callgrind: a figure that does not move
with machine load (CPU-time figures on a shared 2-core machine do), for comparing two versions.

    .venv/bin/python bench/instructions.py [--requests 200] [--database sqlite|postgres]
        [--only unstored,stored,streamed,codex,chain,first_delta]
        [--gateway ours|agentic-api|floor]

The gateway runs under ``valgrind --tool=callgrind`` with instrumentation off while it starts
(``--instr-atstart=no``); each phase sends a warm-up, zeroes the counters and switches
instrumentation on (``callgrind_control -z``, ``-i on``), sends ``--requests`` requests one at a
time, reads the count (``callgrind_control -e``) and switches it off. The
upstream is the benchmark's scripted one, outside valgrind. Counts include everything in the
gateway process: Python, C extensions and the store's threads (SQLite), not the kernel nor the
PostgreSQL server. ``--gateway agentic-api`` counts vLLM's Rust gateway the same way (as
``side_by_side.py`` runs it; the Codex-sized body is ours to send, not part of its figures);
``--only chain`` counts turns 1–5 and 46–50 of 50-turn ``previous_response_id`` chains
(``--requests``/40 chains), what the chain ratio of ``side_by_side.py`` compares.
``--only first_delta`` counts a streamed request up to its first text delta, what the first-delta
figure of ``side_by_side.py`` waits for: the upstream holds back the rest of its answer, and the
count is read while the gateway waits for it (``--requests``/4 requests).
``--gateway floor --only unstored,first_delta`` counts ``floor_app.py``: uvicorn, our upstream
client and orjson with no gateway, the floor of this stack.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
import side_by_side
from chain_phase import chains
from codex_request import codex_body
from httpclient import Connection
from loadgen import DELTA, PLAIN, STREAMED, UNSTORED, check_response, check_stream, load
from processes import (
    BENCH,
    GATEWAY_BIN,
    HOST,
    PYTHON,
    Children,
    free_port,
    gateway_env,
    upstream_url,
    wait_http,
    wait_ready_line,
)
from tables import say, table
from upstream_server import HELD_MODEL, HOLD_SECONDS

BODIES = {
    "unstored": (UNSTORED, False, check_response),
    "stored": (PLAIN, False, check_response),
    "streamed": (STREAMED, True, check_stream),
    "codex": (orjson.dumps(codex_body()), True, check_stream),
}
HELD = orjson.dumps({"model": HELD_MODEL, "input": "hello", "stream": True})
_TOTAL_LINE = re.compile(rb"^\s*Th\s*\d+\s+([\d,]+)", re.MULTILINE)


def _callgrind(pid: int, *args: str) -> bytes:
    done = subprocess.run(
        ["callgrind_control", *args, str(pid)], capture_output=True, check=True, timeout=120
    )
    return done.stdout


def _counted(pid: int) -> int:
    """Instructions collected since the last zeroing, all threads (``-e`` prints one line each)."""
    found = [int(m[1].replace(b",", b"")) for m in _TOTAL_LINE.finditer(_callgrind(pid, "-e"))]
    if not found:
        raise RuntimeError("callgrind_control -e printed no totals")
    return sum(found)


async def phase(port: int, pid: int, name: str, requests: int) -> float:
    body, stream, check = BODIES[name]
    common: dict[str, Any] = dict(concurrency=1, seconds=600, stream=stream, check=check)
    await load("warmup", port, "/v1/responses", body, requests=20, **common)
    _callgrind(pid, "-z")
    _callgrind(pid, "-i", "on")
    await load(name, port, "/v1/responses", body, requests=requests, **common)
    counted = _counted(pid)  # -e answers only while instrumentation is on
    _callgrind(pid, "-i", "off")
    return counted / requests


def _first_event(conn: Connection) -> float | None:
    """A function, not an inline read: the loop waits on a field another task sets."""
    return None if conn.proto is None else conn.proto.first_event


async def first_delta_phase(port: int, pid: int, requests: int) -> float:
    """Per request: zero, count until the first text delta arrives, read the count while the
    upstream still holds back the rest (``HOLD_SECONDS``), then read the rest uncounted."""
    conn = Connection(HOST, port, DELTA)
    try:
        for _ in range(5):
            check_stream(await conn.request("POST", "/v1/responses", HELD, stream=True))
        total = 0
        for _ in range(requests):
            assert conn.proto is not None
            conn.proto.first_event = None
            _callgrind(pid, "-z")
            _callgrind(pid, "-i", "on")
            answer = asyncio.create_task(conn.request("POST", "/v1/responses", HELD, stream=True))
            while (arrived := _first_event(conn)) is None:
                await asyncio.sleep(0.002)
            total += _counted(pid)
            late = time.perf_counter() - arrived
            _callgrind(pid, "-i", "off")
            check_stream(await answer)
            if late > HOLD_SECONDS * 0.8:
                raise RuntimeError(f"the count took {late:.2f} s: the rest may be in it")
        return total / requests
    finally:
        conn.close()


async def chain_phase(port: int, pid: int, count: int, turns: int = 50) -> list[list[str]]:
    """Chained creates (``previous_response_id``, as ``chain_phase.chains``): the instructions
    of turns 1–5 and of the last five, each counted alone, per turn; one chain first to warm up."""
    counts = {"first": 0, "last": 0}

    @contextlib.contextmanager
    def counted(chain: int, turn: int) -> Iterator[None]:
        end = "first" if turn <= 5 else "last" if turn > turns - 5 else None
        if not chain or end is None:
            yield
            return
        _callgrind(pid, "-z")
        _callgrind(pid, "-i", "on")
        yield
        counts[end] += _counted(pid)
        _callgrind(pid, "-i", "off")

    await chains(port, count + 1, turns, counted)
    return [
        [f"chain, turns {span}", f"{counts[end] / (5 * count) / 1e6:.2f}"]
        for end, span in (("first", "1–5"), ("last", f"{turns - 4}–{turns}"))
    ]


def _ours(up_port: int, gw_port: int, url: str) -> tuple[list[str], dict[str, str], str]:
    env = gateway_env(
        upstream_url(up_port),
        url,
        PYTHONMALLOC="malloc",  # valgrind's own allocator sees every allocation
        PYTHONHASHSEED="0",  # string hashes, hence dict probing, the same run to run
    )
    argv = [str(GATEWAY_BIN), "serve", "--host", HOST, "--port", str(gw_port)]
    return argv, env, "/healthz"


def _agentic(up_port: int, gw_port: int, url: str) -> tuple[list[str], dict[str, str], str]:
    """vLLM's Rust gateway, as ``bench/side_by_side.py`` runs it."""
    argv = [
        str(side_by_side.ensure_agentic()),
        "--llm-api-base", f"http://{HOST}:{up_port}/v1", "--skip-llm-ready-check",
        "--gateway-host", HOST, "--gateway-port", str(gw_port), "--db-url", url,
    ]  # fmt: skip
    return argv, dict(RUST_LOG="warn"), "/v1/models"


def _floor(up_port: int, gw_port: int, url: str) -> tuple[list[str], dict[str, str], str]:
    """``floor_app.py``: uvicorn, our upstream client and orjson, no gateway (``unstored`` only)."""
    argv = [
        PYTHON, "-m", "uvicorn", "floor_app:app", "--host", HOST,
        "--port", str(gw_port), "--http", "httptools", "--loop", "uvloop", "--no-access-log",
    ]  # fmt: skip
    env = dict(
        FLOOR_UPSTREAM=upstream_url(up_port),
        PYTHONPATH=str(BENCH),
        PYTHONMALLOC="malloc",
        PYTHONHASHSEED="0",
    )
    return argv, env, "/healthz"


GATEWAYS = {"ours": _ours, "agentic-api": _agentic, "floor": _floor}


async def bench(children: Children, url: str, args: argparse.Namespace) -> None:
    up_port, gw_port = free_port(), free_port()
    upstream = children.start("upstream", [PYTHON, str(BENCH / "upstream_server.py"), str(up_port)])
    wait_ready_line(children, "upstream", upstream)
    argv, env, ready = GATEWAYS[args.gateway](up_port, gw_port, url)
    valgrind = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        "--callgrind-out-file=/dev/null",
    ]
    env = dict(os.environ, HOME=str(children.tmp)) | env
    gateway = children.start("gateway", valgrind + argv, env=env)
    await wait_http(gw_port, ready, gateway, children, "gateway", timeout=600)
    rows = []
    for name in args.only.split(","):
        if name == "chain":
            rows += await chain_phase(gw_port, gateway.pid, max(1, args.requests // 40))
            continue
        if name == "first_delta":
            count = await first_delta_phase(gw_port, gateway.pid, max(1, args.requests // 4))
            rows.append(["to the first text delta", f"{count / 1e6:.2f}"])
            continue
        per_request = await phase(gw_port, gateway.pid, name, args.requests)
        rows.append([name, f"{per_request / 1e6:.2f}"])
    say(
        f"{args.gateway}: instructions per request (callgrind, c=1, {args.requests} requests, "
        f"{args.database})"
    )
    say(table(["request", "M instructions"], rows))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--only", default="unstored,stored,streamed,codex")
    parser.add_argument("--gateway", choices=sorted(GATEWAYS), default="ours")
    args = parser.parse_args()
    children = Children()
    with side_by_side.database_for(args.database, args.gateway) as url:
        try:
            asyncio.run(bench(children, url, args))
        except (RuntimeError, subprocess.SubprocessError) as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 1
        finally:
            with contextlib.suppress(Exception):
                children.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
