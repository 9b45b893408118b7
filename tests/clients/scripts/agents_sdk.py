"""The OpenAI Agents SDK (PyPI ``openai-agents``) against the gateway, run in its own venv.

Usage: agents_sdk.py BASE_URL SCENARIO [MCP_URL]; prints the outcome as one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from agents import (
    Agent,
    HostedMCPTool,
    Runner,
    function_tool,
    set_default_openai_api,
    set_default_openai_client,
    set_tracing_disabled,
)
from openai import AsyncOpenAI

MODEL = "qwen3:8b"
received: list[str] = []


@function_tool  # type: ignore[untyped-decorator]  # agents is untyped here (not installed)
def get_weather(city: str) -> str:
    """The weather in a city."""
    received.append(city)
    return f"sunny, 21 C in {city}"


async def streamed_function_tool() -> dict[str, Any]:
    agent = Agent(name="weather", instructions="Answer briefly.", model=MODEL, tools=[get_weather])
    result = Runner.run_streamed(agent, "What is the weather in Paris?")
    deltas, kinds = [], []
    async for event in result.stream_events():
        if event.type == "raw_response_event" and event.data.type == "response.output_text.delta":
            deltas.append(event.data.delta)
        elif event.type == "run_item_stream_event":
            kinds.append(event.item.type)
    outputs = [item.output for item in result.new_items if item.type == "tool_call_output_item"]
    return {"final": result.final_output, "deltas": "".join(deltas), "kinds": kinds,
            "tool_outputs": outputs, "called_with": received}  # fmt: skip


async def hosted_mcp(mcp_url: str) -> dict[str, Any]:
    tool = HostedMCPTool(
        tool_config={
            "type": "mcp",
            "server_label": "docs",
            "server_url": mcp_url,
            "require_approval": "never",
        }  # fmt: skip
    )
    agent = Agent(name="calc", instructions="Use the docs tools.", model=MODEL, tools=[tool])
    result = await Runner.run(agent, "Add 2 and 40.")
    raw = [item.raw_item for item in result.new_items]
    calls = [item for item in raw if getattr(item, "type", None) == "mcp_call"]
    return {"final": result.final_output, "kinds": [item.type for item in result.new_items],
            "mcp_outputs": [call.output for call in calls]}  # fmt: skip


async def handoffs() -> dict[str, Any]:
    spanish = Agent(name="spanish", instructions="Answer in Spanish.", model=MODEL,
                    handoff_description="Speaks Spanish.")  # fmt: skip
    triage = Agent(name="triage", instructions="Hand off.", model=MODEL, handoffs=[spanish])
    result = await Runner.run(triage, "Hola, ¿cómo estás?")
    return {"final": result.final_output, "last_agent": result.last_agent.name,
            "kinds": [item.type for item in result.new_items]}  # fmt: skip


async def previous_response_id() -> dict[str, Any]:
    agent = Agent(name="memory", instructions="Remember names.", model=MODEL)
    first = await Runner.run(agent, "My name is Ada.")
    second = await Runner.run(
        agent, "What is my name?", previous_response_id=first.last_response_id
    )
    return {"first": first.final_output, "second": second.final_output,
            "ids": [first.last_response_id, second.last_response_id]}  # fmt: skip


async def main() -> None:
    base_url, scenario = sys.argv[1], sys.argv[2]
    set_default_openai_client(AsyncOpenAI(base_url=base_url, api_key="unused", max_retries=0))
    set_default_openai_api("responses")
    set_tracing_disabled(True)
    runs = {
        "streamed_function_tool": streamed_function_tool,
        "hosted_mcp": lambda: hosted_mcp(sys.argv[3]),
        "handoffs": handoffs,
        "previous_response_id": previous_response_id,
    }
    print(json.dumps(await runs[scenario]()))  # noqa: T201


asyncio.run(main())
