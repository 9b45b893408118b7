"""How long the scripted upstream takes to answer right after a PostgreSQL statement: the share of
a stored stream's first text delta that belongs to the machine, not to either gateway.

    .venv/bin/python bench/upstream_after_commit.py [--requests 200] [--rounds 6] [--gaps 50,200,1500]

The layout of ``side_by_side.py``'s PostgreSQL rounds: the upstream and the PostgreSQL server on
core 1, this script (in the gateway's place) on core 0. Each request is preceded by one statement,
then a busy wait of ``gap`` µs (a gateway's own work before it calls the upstream), then the
streamed chat completion whose first ``data:`` line is timed (the scripted upstream writes its
head and body at once). The statements: none, ``SELECT 1``, an ``INSERT`` committed as the
gateways commit (synchronously), the same with ``synchronous_commit = off``, and the committed
``INSERT`` followed by a ``SELECT 1`` (agentic-api's pool sends one more message after its
commit). Modes take turns, so the host's drift falls on all of them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from httpclient import Connection
from loadgen import CHAT_STREAM, check_chat_stream
from processes import HOST, Children, start_upstream
from scratch_database import postgres_database, postgres_server_on
from side_by_side import PG_ADMIN

STATEMENTS: dict[str, tuple[str, ...]] = {
    "nothing": (),
    "SELECT 1": ("SELECT 1",),
    "INSERT, committed": ("INSERT INTO probe VALUES ('hello')",),
    "INSERT, synchronous_commit off": (
        "SET synchronous_commit = off; INSERT INTO probe VALUES ('hello'); RESET synchronous_commit",
    ),
    # agentic-api's pattern: its pool sends one more message (a Sync) after the commit.
    "INSERT, committed, then SELECT 1": ("INSERT INTO probe VALUES ('hello')", "SELECT 1"),
}


async def _first_data(upstream: Connection) -> float:
    """A streamed chat completion, read whole; the time to its first ``data:`` line."""
    result = await upstream.request("POST", "/v1/chat/completions", CHAT_STREAM, stream=True)
    check_chat_stream(result)
    assert result.ttfe is not None
    return result.ttfe


async def measure(
    dsn: str, port: int, args: argparse.Namespace
) -> dict[tuple[str, int], list[float]]:
    import asyncpg

    conn: Any = await asyncpg.connect(dsn)
    await conn.execute("CREATE TABLE probe (text text)")
    upstream = Connection(HOST, port, marker=b"data:")
    times: dict[tuple[str, int], list[float]] = {}
    for _ in range(args.rounds):
        for gap in args.gaps:
            for name, statements in STATEMENTS.items():
                for _ in range(args.requests):
                    for sql in statements:
                        await conn.execute(sql)
                    until = time.perf_counter() + gap / 1e6
                    while time.perf_counter() < until:
                        pass
                    times.setdefault((name, gap), []).append(await _first_data(upstream))
    upstream.close()
    await conn.close()
    return times


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--gaps", type=lambda text: [int(x) for x in text.split(",")],
                        default=[50, 200, 1500])  # fmt: skip
    args = parser.parse_args()
    os.sched_setaffinity(0, {0})  # in the gateway's place
    children = Children()
    try:
        port = start_upstream(children)
        with postgres_server_on({1}), postgres_database(PG_ADMIN) as url:
            dsn = url.replace("postgresql+asyncpg://", "postgresql://")
            times = asyncio.run(measure(dsn, port, args))
    finally:
        children.stop_all()
    print("| before the request | " + " | ".join(f"gap {gap} µs" for gap in args.gaps) + " |")
    print("|---|" + "---|" * len(args.gaps))
    for name in STATEMENTS:
        cells = [f"{statistics.median(times[(name, gap)]) * 1e6:.0f} µs" for gap in args.gaps]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(
        "\nThe upstream's first data: line, p50 (core 1 holds the upstream and the PostgreSQL server)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
