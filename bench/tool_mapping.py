"""CPU cost of mapping a Codex-sized tool list (~40 tools: functions, namespaces, a custom tool,
hosted tools) onto chat functions, and of mapping the model's calls and the history back.

    .venv/bin/python bench/tool_mapping.py [--iterations N]

In process, no sockets: what is timed is the mapping alone (``request_tools`` + ``build_catalog``
+ ``ToolCatalog.build`` + ``chat_tool_choice``; one namespaced and one custom call through the
round writer; 20 namespaced/custom history items to chat messages), against the same count of
plain function tools. Request validation and the rest of a create are ``bench/run.py``'s.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from responses_gateway.chat.messages import ChatHistory, to_chat_messages
from responses_gateway.chat.reply import ToolCallDelta
from responses_gateway.mcp import EgressPolicy
from responses_gateway.orchestrator.catalog import chat_tool_choice
from responses_gateway.orchestrator.round_writer import RoundWriter
from responses_gateway.orchestrator.state import ResponseState
from responses_gateway.schemas.request import CreateResponseRequest
from responses_gateway.service.history import EMPTY_HISTORY
from responses_gateway.service.tool_shapes import HostedToolPolicy
from responses_gateway.service.tools import build_catalog

GRAMMAR = "start: begin_patch hunk+ end_patch\n" * 20


def _function(name: str) -> dict[str, Any]:
    properties = {f"p{n}": {"type": "string", "description": "a parameter"} for n in range(4)}
    return {
        "type": "function",
        "name": name,
        "description": f"The {name} tool. " * 8,
        "parameters": {"type": "object", "properties": properties, "required": ["p0"]},
    }


def codex_tools() -> list[dict[str, Any]]:
    """16 plain functions, 3 namespaces of 7 tools, apply_patch, and two hosted tools: 40."""
    tools: list[dict[str, Any]] = [_function(f"tool_{n}") for n in range(16)]
    for ns in ("mcp__docs", "mcp__github", "multi_agent"):
        inner = [_function(f"{ns.split('_')[-1]}_{n}") for n in range(7)]
        tools.append({"type": "namespace", "name": ns, "description": "MCP server", "tools": inner})
    tools.append(
        {
            "type": "custom",
            "name": "apply_patch",
            "description": "Edit files.",
            "format": {"type": "grammar", "syntax": "lark", "definition": GRAMMAR},
        }
    )
    return [*tools, {"type": "web_search"}, {"type": "image_generation"}]


def history_items(*, plain: bool) -> list[dict[str, Any]]:
    """10 namespaced and 10 custom calls with their outputs (``plain``: as plain functions)."""
    items: list[dict[str, Any]] = [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]}
    ]
    for n in range(10):
        call: dict[str, Any] = {"type": "function_call", "call_id": f"c{n}", "name": "docs_1"}
        call.update(arguments='{"p0": "x"}', **({} if plain else {"namespace": "mcp__docs"}))
        patch: dict[str, Any] = {"type": "custom_tool_call", "name": "apply_patch"}
        patch.update(call_id=f"p{n}", input="*** Begin Patch\n*** End Patch\n")
        output = "custom_tool_call_output"
        if plain:
            patch = {"type": "function_call", "call_id": f"p{n}", "name": "f1", "arguments": "{}"}
            output = "function_call_output"
        items += [
            call,
            {"type": "function_call_output", "call_id": f"c{n}", "output": "ok"},
            patch,
            {"type": output, "call_id": f"p{n}", "output": "Done."},
        ]
    return items


async def map_once(request: CreateResponseRequest, history: list[dict[str, Any]]) -> int:
    catalog, _ = await build_catalog(
        request, EMPTY_HISTORY, [], EgressPolicy(), "never", HostedToolPolicy("omit")
    )
    catalog.build()
    chat_tool_choice(catalog, request.tool_choice)
    writer = RoundWriter(
        ResponseState("resp_bench", {}),
        catalog.is_server_tool,
        client_tool=catalog.client_tools.get,
    )
    for index, name in enumerate(("mcp__docs__docs_1", "apply_patch")):
        writer.feed([ToolCallDelta(index, f"call_{index}", name, '{"input": "x"}')])
    writer.finish("completed")
    messages = to_chat_messages(None, ChatHistory(), history, catalog.chat_names)
    return len(catalog.chat_tools) + len(messages)


def per_call_us(run: Callable[[], Any], iterations: int) -> float:
    run()  # warm
    start = time.process_time()
    for _ in range(iterations):
        run()
    return (time.process_time() - start) / iterations * 1e6


def measure(iterations: int) -> dict[str, float]:
    logging.getLogger("responses_gateway").setLevel(logging.ERROR)  # the omitted-tool warnings
    loop = asyncio.new_event_loop()
    try:
        codex = CreateResponseRequest.model_validate(
            {"model": "m", "input": "x", "tools": codex_tools()}
        )
        plain = CreateResponseRequest.model_validate(
            {"model": "m", "input": "x", "tools": [_function(f"f{n}") for n in range(40)]}
        )
        history, plain_history = history_items(plain=False), history_items(plain=True)
        return {
            "codex": per_call_us(
                lambda: loop.run_until_complete(map_once(codex, history)), iterations
            ),
            "plain": per_call_us(
                lambda: loop.run_until_complete(map_once(plain, plain_history)), iterations
            ),
        }
    finally:
        loop.close()


def report(iterations: int) -> list[str]:
    figures = measure(iterations)
    return [
        "Tool mapping (in process, CPU per request; 40 tools, 41 history items):",
        f"  Codex-sized tools (16 functions, 3 namespaces x 7, apply_patch, 2 hosted): "
        f"{figures['codex']:.0f} us",
        f"  40 plain function tools, same history as plain calls:                     "
        f"{figures['plain']:.0f} us",
        f"  => cost of the shapes' mapping: {figures['codex'] - figures['plain']:.0f} us",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=2000)
    args = parser.parse_args()
    print("\n".join(report(args.iterations)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
