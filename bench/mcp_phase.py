"""MCP round trips: creates that call one tool of the MCP server through the gateway, against
plain creates at the same moment and the MCP server timed directly with the SDK client."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from httpclient import Result
from loadgen import PLAIN, check_response, pct, sequential
from processes import HOST, profiled
from procfs import cpu_seconds
from profiles import Profile
from tables import fmt, say, table


def mcp_body(url: str) -> bytes:
    tool = {"type": "mcp", "server_label": "calc", "server_url": url, "require_approval": "never"}
    return orjson.dumps({"model": "bench", "input": "add", "tools": [tool]})


def check_mcp(result: Result) -> None:
    check_response(result)
    output = result.json().get("output") or []
    calls = [item for item in output if item.get("type") == "mcp_call"]
    if not calls or calls[0].get("error") or str(calls[0].get("output")) != "3":
        raise RuntimeError(f"MCP round trip went wrong: {result.body[:800]!r}")


async def mcp_direct(url: str, count: int) -> tuple[list[float], list[float]]:
    """Latency of the MCP server itself, with the SDK client: (a) a whole session per sample
    (connect + initialize + tools/list + tools/call + close, roughly what the gateway does per
    request), (b) one tools/call on an open session."""
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    sessions: list[float] = []
    calls: list[float] = []
    # One shared httpx2 client: a new one per session would add ~20 ms of CPU building an
    # SSL context (CA bundle), which is client cost, not MCP server time.
    http = httpx2.AsyncClient(trust_env=False)
    for _ in range(max(3, count // 3)):
        t0 = time.perf_counter()
        async with (
            streamable_http_client(url, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            await session.list_tools()
            await session.call_tool("add", {"a": 1, "b": 2})
        sessions.append(time.perf_counter() - t0)
    async with (
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        for _ in range(count):
            t0 = time.perf_counter()
            result = await session.call_tool("add", {"a": 1, "b": 2})
            calls.append(time.perf_counter() - t0)
        texts = [getattr(c, "text", "") for c in result.content]
        if "3" not in texts:
            raise RuntimeError(f"MCP add returned {texts}")
    await http.aclose()
    return sessions, calls


@dataclass
class McpRoundTrips:
    with_tool: list[float]  # latencies (s) of creates calling the tool
    plain: list[float]  # of plain creates right after
    sessions: list[float]  # of whole MCP sessions, direct
    calls: list[float]  # of one tools/call on an open session, direct
    cpu: float  # gateway CPU seconds per create with the tool


async def measure(
    port: int, pid: int, mcp_port: int, profile: Profile, out: Path | None
) -> McpRoundTrips:
    say("running: MCP round trips ...")
    url = f"http://{HOST}:{mcp_port}/mcp"
    body = mcp_body(url)
    await sequential(port, lambda i: body, 3, check_mcp)  # warm-up
    cpu0 = cpu_seconds(pid)
    async with profiled(out, "mcp", pid):
        with_tool = await sequential(port, lambda i: body, profile.mcp_requests, check_mcp)
    cpu = (cpu_seconds(pid) - cpu0) / profile.mcp_requests
    plain = await sequential(port, lambda i: PLAIN, profile.mcp_requests, check_response)
    sessions, calls = await mcp_direct(url, profile.mcp_requests)
    return McpRoundTrips(_latencies(with_tool), _latencies(plain), sessions, calls, cpu)


def _ms(values: list[float], q: float) -> float:
    return pct(values, q) * 1000


def _latencies(results: list[Result]) -> list[float]:
    return [result.latency for result in results]


def report(measured: McpRoundTrips, direct_ms: float) -> None:
    """``direct_ms``: p50 of one upstream round made directly."""
    tool = _ms(measured.with_tool, 50)
    plain = _ms(measured.plain, 50)
    session = _ms(measured.sessions, 50)
    say(
        f"MCP round trip (c=1, {len(measured.with_tool)} creates with one `add` call each; "
        f"gateway CPU {fmt(measured.cpu * 1000)} ms/create)"
    )
    rows = [
        ["create with MCP tool (2 upstream rounds + list + call)",
         fmt(tool), fmt(_ms(measured.with_tool, 99))],
        ["plain create (same moment, for the difference)", fmt(plain), fmt(_ms(measured.plain, 99))],
        ["=> gateway overhead per MCP tool call (difference)", fmt(tool - plain), ""],
        ["MCP server direct: session (init+list+call+close), SDK client*",
         fmt(session), fmt(_ms(measured.sessions, 99))],
        ["MCP server direct: one tools/call on an open session",
         fmt(_ms(measured.calls, 50)), fmt(_ms(measured.calls, 99))],
        ["=> overhead minus direct MCP session minus 1 upstream round",
         fmt(tool - plain - session - direct_ms), ""],
    ]  # fmt: skip
    say(table(["", "p50 ms", "p99 ms"], rows))
    say("  * SDK client in the driver with one reused httpx2 client (no SSL context per session)")
    say()
