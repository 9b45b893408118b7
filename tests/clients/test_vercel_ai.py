"""The Vercel AI SDK (npm ``ai`` + ``@ai-sdk/openai``, node) against the gateway:
``generateText`` and ``streamText`` with a tool and with ``openai.tools.mcp`` (the gateway runs
the MCP server), and reasoning shown (the SDK reads reasoning ``summary``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

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

MODES = pytest.mark.parametrize("mode", ["generate", "stream"])


def run_vercel(cache: Path, tmp: Path, gw: RecordedGateway, *args: str) -> dict[str, Any]:
    """ESM resolves packages beside the script, so the script runs from a folder that links
    the cached ``node_modules``."""
    (tmp / "node_modules").symlink_to(cache / "node" / "node_modules")
    script = shutil.copy(SCRIPTS / "vercel_ai.mjs", tmp / "vercel_ai.mjs")
    return run_client(["node", str(script), gw.base_url, *args])


@MODES
def test_tool(
    mode: str, clients_cache: Path, tmp_path: Path, gw: RecordedGateway, upstream: ScriptedUpstream
) -> None:
    push_weather_round_trip(upstream, "weather")
    result = run_vercel(clients_cache, tmp_path, gw, mode, "tool")
    assert result["toolCalls"] == [{"name": "weather", "input": {"city": "Paris"}}]
    assert result["toolResults"] == [{"name": "weather", "output": WEATHER}]
    assert result["text"] == "Sunny in Paris."
    assert_weather_reached_model(upstream)


@MODES
def test_mcp_tool(
    mode: str,
    clients_cache: Path,
    tmp_path: Path,
    gw: RecordedGateway,
    upstream: ScriptedUpstream,
    mcp_url: str,
) -> None:
    def call_add(request: dict[str, Any]) -> Reply:
        add = offered_tool(request, "add")
        return Reply(tool_calls=[ToolCall(add["name"], json.dumps({"a": 2, "b": 40}))])

    upstream.push(call_add, Reply(content="It is 42."))
    result = run_vercel(clients_cache, tmp_path, gw, mode, "mcp", mcp_url)
    assert result["text"] == "It is 42."
    (call,) = result["toolResults"]
    assert call["output"]["name"] == "add" and call["output"]["output"] == "42"
    assert len(gw.recorder.bodies()) == 1  # the gateway ran the MCP call inside one response


@MODES
def test_reasoning_shown(
    mode: str, clients_cache: Path, tmp_path: Path, gw: RecordedGateway, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(reasoning="The user wants the weather; I know it.", content="Sunny."))
    result = run_vercel(clients_cache, tmp_path, gw, mode, "reasoning")
    assert result["text"] == "Sunny."
    assert result["reasoning"] == "The user wants the weather; I know it."
    assert "reasoning" in result["parts"] or "reasoning-delta" in result["parts"]
    (sent,) = gw.recorder.bodies()
    assert sent["reasoning"]["summary"] == "auto"
