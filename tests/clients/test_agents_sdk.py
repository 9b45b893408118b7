"""The OpenAI Agents SDK (PyPI ``openai-agents``, in its own venv) against the gateway: function
tools while streaming (``Runner.run_streamed``), ``HostedMCPTool`` (the gateway runs the MCP
server), handoffs, and ``previous_response_id`` chaining."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.clients.conftest import RecordedGateway
from tests.clients.support import (
    SCRIPTS,
    WEATHER,
    assert_weather_reached_model,
    offered_tool,
    push_weather_round_trip,
    run_client,
)
from tests.support.upstream import Reply, ScriptedUpstream, ToolCall


def run_agents(cache: Path, gw: RecordedGateway, scenario: str, *extra: str) -> dict[str, Any]:
    python = str(cache / "agents" / "bin" / "python")
    return run_client([python, str(SCRIPTS / "agents_sdk.py"), gw.base_url, scenario, *extra])


def test_function_tool_streamed(
    clients_cache: Path, gw: RecordedGateway, upstream: ScriptedUpstream
) -> None:
    push_weather_round_trip(upstream, "get_weather")
    result = run_agents(clients_cache, gw, "streamed_function_tool")
    assert result["called_with"] == ["Paris"]
    assert result["tool_outputs"] == [WEATHER]
    assert result["final"] == result["deltas"] == "Sunny in Paris."
    assert result["kinds"] == ["tool_call_item", "tool_call_output_item", "message_output_item"]
    assert_weather_reached_model(upstream)
    assert all(body["stream"] for body in gw.recorder.bodies())


def test_hosted_mcp_tool(
    clients_cache: Path, gw: RecordedGateway, upstream: ScriptedUpstream, mcp_url: str
) -> None:
    def call_add(request: dict[str, Any]) -> Reply:
        add = offered_tool(request, "add")
        return Reply(tool_calls=[ToolCall(add["name"], json.dumps({"a": 2, "b": 40}))])

    upstream.push(call_add, Reply(content="It is 42."))
    result = run_agents(clients_cache, gw, "hosted_mcp", mcp_url)
    assert result["mcp_outputs"] == ["42"]
    assert result["final"] == "It is 42."
    assert "42" in upstream.requests[1]["messages"][-1]["content"]


def test_handoff(clients_cache: Path, gw: RecordedGateway, upstream: ScriptedUpstream) -> None:
    def transfer(request: dict[str, Any]) -> Reply:
        tool = offered_tool(request, "transfer_to_spanish")
        return Reply(tool_calls=[ToolCall(tool["name"], "{}")])

    upstream.push(transfer, Reply(content="¡Muy bien, gracias!"))
    result = run_agents(clients_cache, gw, "handoffs")
    assert result["last_agent"] == "spanish"
    assert result["final"] == "¡Muy bien, gracias!"
    assert "handoff_output_item" in result["kinds"]
    assert "Answer in Spanish." in json.dumps(upstream.requests[1]["messages"][0])


def test_previous_response_id(
    clients_cache: Path, gw: RecordedGateway, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(content="Hello, Ada."), Reply(content="Your name is Ada."))
    result = run_agents(clients_cache, gw, "previous_response_id")
    assert (result["first"], result["second"]) == ("Hello, Ada.", "Your name is Ada.")
    first_id, _ = result["ids"]
    second = gw.recorder.bodies()[1]
    assert second["previous_response_id"] == first_id
    history = json.dumps(upstream.requests[1]["messages"])
    assert "My name is Ada." in history and "Hello, Ada." in history
