"""WebSocket mode against HTTP for an agent's tool loop: ``--turns`` turns (20), each sending the
client's ``function_call_output`` and a nudge with ``previous_response_id``, the model answering
with the next call (the bench upstream calls ``add`` whenever the last message is not a tool
result). Every turn streams, as Codex's do.

    .venv/bin/python bench/websocket_loop.py [--loops 20] [--turns 20] [--database sqlite|postgres]

Modes: HTTP + SSE with stored responses; one WebSocket with stored responses, and with
``store: false`` (the chain kept by the connection), each with and without permessage-deflate
(the SDK's ``websockets`` client negotiates it; it costs both ends CPU per frame). Printed:
wall time per turn (median), per whole loop (median), and the gateway's CPU per turn.
Standalone it starts the upstream and a gateway (core 0) as ``run.py`` does; ``run.py`` calls
``report`` with its own gateway.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from httpclient import Connection
from processes import (
    GATEWAY_BIN,
    HOST,
    Children,
    free_port,
    gateway_env,
    start_upstream,
    upstream_url,
    wait_http,
)
from procfs import cpu_seconds
from scratch_database import bench_database
from tables import fmt, say, table

ADD = {
    "type": "function",
    "name": "add",
    "description": "Add two integers",
    "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}},
}
NUDGE = {"type": "message", "role": "user", "content": "again"}
Turn = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def turn_body(turn: int, previous: str | None, *, store: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "bench", "tools": [ADD], "store": store}
    if previous is None:
        body["input"] = f"loop start {turn}"
    else:
        output = {"type": "function_call_output", "call_id": "call_add_1", "output": "3"}
        body["input"] = [output, NUDGE]
        body["previous_response_id"] = previous
    return body


def finished(response: dict[str, Any]) -> str:
    if response["status"] != "completed" or response["output"][-1]["type"] != "function_call":
        raise RuntimeError(f"unexpected turn result: {orjson.dumps(response)[:300]!r}")
    return str(response["id"])


async def loop(send_turn: Turn, turns: int, *, store: bool) -> list[float]:
    """One tool loop; the wall time of each turn."""
    previous: str | None = None
    walls = []
    for turn in range(turns):
        start = time.perf_counter()
        previous = finished(await send_turn(turn_body(turn, previous, store=store)))
        walls.append(time.perf_counter() - start)
    return walls


async def http_loops(port: int, loops: int, turns: int) -> list[list[float]]:
    conn = Connection(HOST, port)

    async def send_turn(body: dict[str, Any]) -> dict[str, Any]:
        result = await conn.request(
            "POST", "/v1/responses", orjson.dumps({**body, "stream": True}), stream=True
        )
        last = result.body.rstrip().split(b"\n\n")[-2]  # the terminal event, before [DONE]
        return dict(orjson.loads(last.split(b"\ndata: ", 1)[1])["response"])

    try:
        return [await loop(send_turn, turns, store=True) for _ in range(loops)]
    finally:
        conn.close()


async def websocket_loops(
    port: int, loops: int, turns: int, *, store: bool, deflate: bool = True
) -> list[list[float]]:
    url = f"ws://{HOST}:{port}/v1/responses"
    compression = "deflate" if deflate else None
    async with connect(url, max_size=None, compression=compression) as socket:

        async def send_turn(body: dict[str, Any]) -> dict[str, Any]:
            await socket.send(orjson.dumps({"type": "response.create", **body}).decode())
            while True:
                event = orjson.loads(await socket.recv())
                if event["type"] in ("response.completed", "response.failed", "error"):
                    return dict(event.get("response") or event)

        return [await loop(send_turn, turns, store=store) for _ in range(loops)]


async def report(port: int, pid: int, *, loops: int, turns: int) -> None:
    """Warm up, then each mode in turn on one gateway; prints a table."""

    def on_socket(store: bool, deflate: bool) -> Callable[[], Awaitable[list[list[float]]]]:
        return lambda: websocket_loops(port, loops, turns, store=store, deflate=deflate)

    modes: list[tuple[str, Callable[[], Awaitable[list[list[float]]]]]] = [
        ("HTTP + SSE, stored, previous_response_id", lambda: http_loops(port, loops, turns)),
        ("WebSocket (permessage-deflate), stored", on_socket(True, True)),
        ("WebSocket (permessage-deflate), store: false", on_socket(False, True)),
        ("WebSocket (no compression), stored", on_socket(True, False)),
        ("WebSocket (no compression), store: false", on_socket(False, False)),
    ]
    await http_loops(port, 2, turns)
    await websocket_loops(port, 2, turns, store=False)
    rows = []
    for name, run_mode in modes:
        cpu0 = cpu_seconds(pid)
        walls = await run_mode()
        cpu = (cpu_seconds(pid) - cpu0) / (loops * turns)
        per_turn = statistics.median(w for loop_walls in walls for w in loop_walls)
        per_loop = statistics.median(sum(loop_walls) for loop_walls in walls)
        rows.append([name, fmt(per_turn * 1000), fmt(per_loop * 1000), fmt(cpu * 1000)])
    say(f"{turns}-turn function-tool loop ({loops} loops per mode, every turn streamed):")
    headers = ["mode", "wall ms/turn p50", f"ms per {turns}-turn loop p50", "gateway CPU ms/turn"]
    say(table(headers, rows))


async def standalone(args: argparse.Namespace, children: Children, database_url: str) -> None:
    up_port, gw_port = start_upstream(children), free_port()
    env = gateway_env(upstream_url(up_port), database_url)
    argv = [str(GATEWAY_BIN), "serve", "--host", HOST, "--port", str(gw_port)]
    gateway = children.start("gateway", ["taskset", "-c", "0", *argv], env=env)
    await wait_http(gw_port, "/healthz", gateway, children, "gateway")
    say(f"gateway pid {gateway.pid} on core 0; database {args.database}")
    await report(gw_port, gateway.pid, loops=args.loops, turns=args.turns)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loops", type=int, default=20)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, {1})
    children = Children()
    try:
        with bench_database(args, children, "bench.db") as database_url:
            try:
                asyncio.run(standalone(args, children, database_url))
            finally:
                children.stop_all()
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
