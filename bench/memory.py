"""The gateway's resident memory: idle, after the first request, after a load, after MCP.

    .venv/bin/python bench/memory.py [--database sqlite|postgres|both] [--requests 2000]

For each database: a fresh one, ``responses-gateway serve`` (which migrates it first), the bench
upstream and MCP server; then RSS (``VmRSS``) once ``/healthz`` answers (idle: lifespan done, no
API request yet), after one stored ``POST /v1/responses``, after ``--requests`` more (stored and
streamed, half each, on ``--concurrency`` connections) with the peak so far (``VmHWM``), and last
after one request with an MCP tool (the MCP SDK is imported only then). RSS does not depend on
the machine's load, unlike the timings of the other benches.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import PLAIN, STREAMED, check_response, check_stream, load
from mcp_phase import mcp_body
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
from procfs import status_kib
from scratch_database import bench_database
from tables import say, table

PATH = "/v1/responses"


def _mib(pid: int, key: str = "VmRSS") -> float:
    return status_kib(pid, key) / 1024


def _server(name: str, port: int) -> list[str]:
    """bench/upstream_server.py or bench/mcp_server.py on ``port``."""
    return [PYTHON, str(BENCH / f"{name}_server.py"), str(port)]


async def measure(children: Children, url: str, requests: int, c: int) -> list[float]:
    """[idle, first request, after the load, peak after the load, after an MCP request] in MiB."""
    up_port, gw_port, mcp_port = free_port(), free_port(), free_port()
    upstream = children.start("upstream", _server("upstream", up_port))
    mcp = children.start("mcp", _server("mcp", mcp_port))
    wait_ready_line(children, "upstream", upstream)
    env = gateway_env(upstream_url(up_port), url, GATEWAY_MCP_ALLOW_PRIVATE_NETWORKS="1")
    argv = [str(GATEWAY_BIN), "serve", "--host", HOST, "--port", str(gw_port)]
    gateway = children.start("gateway", argv, env=env)
    await wait_http(gw_port, "/healthz", gateway, children, "gateway")
    wait_ready_line(children, "mcp", mcp)
    pid = gateway.pid
    figures = [_mib(pid)]

    async def send(body: bytes, count: int, concurrency: int, stream: bool) -> None:
        check = check_stream if stream else check_response
        await load("memory", gw_port, PATH, body, concurrency=concurrency, requests=count,
                       seconds=600.0, stream=stream, check=check)  # fmt: skip

    await send(PLAIN, 1, 1, stream=False)
    figures.append(_mib(pid))
    await send(PLAIN, requests // 2, c, stream=False)
    await send(STREAMED, requests - requests // 2, c, stream=True)
    figures += [_mib(pid), _mib(pid, "VmHWM")]
    await send(mcp_body(f"http://{HOST}:{mcp_port}/mcp"), 1, 1, stream=False)
    figures.append(_mib(pid))
    children.check_alive()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
        help="admin connection used to create and drop a scratch database",
    )
    parser.add_argument("--requests", type=int, default=2000, help="the load after the first")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    rows: list[list[str]] = []
    for database in ("sqlite", "postgres") if args.database == "both" else (args.database,):
        children = Children()
        scratch = argparse.Namespace(database=database, postgres_url=args.postgres_url)
        try:
            with bench_database(scratch, children, "memory.db") as url:
                try:
                    figures = asyncio.run(measure(children, url, args.requests, args.concurrency))
                finally:
                    children.stop_all()  # before the database is dropped
        except Exception as exc:
            print(f"memory bench failed ({database}): {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        rows.append([database, *(f"{mib:.1f}" for mib in figures)])
    headers = ["RSS, MiB", "idle", "1st request", f"+{args.requests}", "peak", "+1 MCP request"]
    say(table(headers, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
