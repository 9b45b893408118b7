"""Codex-sized requests through the gateway: the gateway's CPU per request.

    .venv/bin/python bench/codex_request.py [--requests N] [--database sqlite|postgres]

Codex sends the whole conversation every turn with ``store: false, stream: true``. The body built
here has that size and those shapes (deterministic, no Codex text copied): 30 KB of
instructions, 40 tools (plain functions with real-sized schemas, two ``namespace`` tools, the
freeform ``apply_patch`` ``custom`` tool with a Lark grammar, ``web_search``) and 100 input items
(developer and user messages, function calls and their outputs, custom tool calls and outputs,
reasoning items, assistant messages). The gateway runs on core 0; the upstream and this driver on
core 1. It prints CPU ms per request for the Codex-sized body and for a one-word body (same
flags); the difference is what the Codex-sized mapping costs, and it must stay within 2 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import Phase, check_stream, load
from processes import (
    GATEWAY_BIN,
    HOST,
    Children,
    drive_from_core_1,
    free_port,
    gateway_env,
    start_upstream,
    upstream_url,
    wait_http,
)
from scratch_database import bench_database
from tables import fmt, say, table, verdict

TARGET_EXTRA_CPU_MS = 2.0  # what a Codex-sized body may cost over a one-word one
GRAMMAR = "\n".join(f'rule_{i}: "*** " WORD_{i} " " PATH NEWLINE' for i in range(40))
PATCH = "*** Begin Patch\n*** Update File: src/app.py\n@@\n-old line\n+new line\n*** End Patch\n"


def _schema(i: int) -> dict[str, Any]:
    fields: dict[str, dict[str, Any]] = {
        f"field_{j}": {"type": "string", "description": f"Parameter {j} of tool {i}, " * 3}
        for j in range(6)
    }
    fields["count"] = {"type": "integer", "minimum": 0}
    return {"type": "object", "properties": fields, "required": ["field_0"]}


def _function(i: int) -> dict[str, Any]:
    return {
        "type": "function",
        "name": f"tool_{i}",
        "description": f"Tool number {i}: does one thing well. " * 8,
        "strict": False,
        "parameters": _schema(i),
    }


def tools() -> list[dict[str, Any]]:
    """40 tools: 30 functions, 2 namespaces of 4 and 3 functions, apply_patch, web_search."""
    out: list[dict[str, Any]] = [_function(i) for i in range(30)]
    out.append({"type": "custom", "name": "apply_patch", "description": "Edit files.",
                "format": {"type": "grammar", "syntax": "lark", "definition": GRAMMAR}})  # fmt: skip
    for name, size in (("mcp__docs", 4), ("multi_agent", 3)):
        inner = [_function(100 + len(out) + k) for k in range(size)]
        out.append({"type": "namespace", "name": name, "description": "Grouped.", "tools": inner})
    out.append({"type": "web_search", "external_web_access": False})
    return out


def _message(role: str, text: str) -> dict[str, Any]:
    kind = "output_text" if role == "assistant" else "input_text"
    return {"type": "message", "role": role, "content": [{"type": kind, "text": text}]}


def _round(i: int) -> list[dict[str, Any]]:
    """Ten items of one agent step: reasoning, a shell call, apply_patch, a namespaced call."""
    call, patch, mcp = f"call_{i}", f"patch_{i}", f"mcp_{i}"
    arguments = orjson.dumps({"cmd": f"rg -n pattern_{i} src/"}).decode()
    return [
        _message("user", f"Step {i}: please continue with the change. " * 4),
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Thinking. " * 20}]},
        {"type": "function_call", "call_id": call, "name": "tool_1", "arguments": arguments},
        {"type": "function_call_output", "call_id": call, "output": f"src/m{i}.py:1: x\n" * 40},
        {"type": "custom_tool_call", "call_id": patch, "name": "apply_patch", "input": PATCH},
        {"type": "custom_tool_call_output", "call_id": patch, "output": "Done!"},
        {
            "type": "function_call",
            "call_id": mcp,
            "name": "tool_131",
            "namespace": "mcp__docs",
            "arguments": '{"field_0": "docs"}',
        },  # fmt: skip
        {"type": "function_call_output", "call_id": mcp, "output": "Documentation text. " * 30},
        _message("assistant", f"I changed module {i}. " * 10),
        _message("developer", "<environment_context>cwd /work</environment_context>"),
    ]


def codex_body() -> dict[str, Any]:
    items = [item for i in range(10) for item in _round(i)]
    return {
        "model": "bench",
        "instructions": ("You are a coding agent. Follow the repository's conventions. " * 500)[
            :30_000
        ],
        "input": items,
        "tools": tools(),
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "reasoning": {"summary": "auto"},
        "store": False,
        "stream": True,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "bench-thread",
    }


async def measure(port: int, pid: int, requests: int) -> dict[str, Phase]:
    """CPU per request at concurrency 1 for the Codex-sized body and a one-word body."""
    bodies = {
        "codex-sized": orjson.dumps(codex_body()),
        "one word": orjson.dumps({"model": "bench", "input": "hi", "store": False, "stream": True}),
    }
    phases = {}
    for name, body in bodies.items():
        common: dict[str, Any] = dict(stream=True, check=check_stream, concurrency=1, seconds=120)
        await load("warmup", port, "/v1/responses", body, requests=50, **common)
        phases[name] = await load(
            name, port, "/v1/responses", body, requests=requests, pid=pid, **common
        )
    return phases


def report(phases: dict[str, Phase], size: int) -> None:
    codex, small = phases["codex-sized"], phases["one word"]
    rows = [
        [name, fmt(phase.cpu_ms_per_request), fmt(phase.lat(50)), str(len(phase.results))]
        for name, phase in phases.items()
    ]  # fmt: skip
    say(f"Codex-sized request: {size / 1024:.0f} KiB body, 40 tools, 100 input items")
    say(table(["body", "CPU ms/req", "p50 ms", "requests"], rows))
    cpu = codex.cpu_ms_per_request or float("inf")
    extra = cpu - (small.cpu_ms_per_request or 0.0)
    say(
        f"CPU per Codex-sized request {cpu:.2f} ms, {extra:+.2f} ms over a one-word request; "
        f"target: at most {TARGET_EXTRA_CPU_MS} ms more: {verdict(extra <= TARGET_EXTRA_CPU_MS)}"
    )


async def bench(children: Children, database_url: str, requests: int) -> None:
    up_port, gw_port = start_upstream(children), free_port()
    env = gateway_env(upstream_url(up_port), database_url)
    argv = [str(GATEWAY_BIN), "serve", "--host", HOST, "--port", str(gw_port)]
    gateway = children.start("gateway", ["taskset", "-c", "0", *argv], env=env)
    await wait_http(gw_port, "/healthz", gateway, children, "gateway")
    phases = await measure(gw_port, gateway.pid, requests)
    report(phases, len(orjson.dumps(codex_body())))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    drive_from_core_1()
    children = Children()
    with bench_database(args, children, "bench.db") as url:
        try:
            asyncio.run(bench(children, url, args.requests))
        except RuntimeError as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 1
        finally:
            children.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
