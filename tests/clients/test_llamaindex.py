"""LlamaIndex ``OpenAIResponses`` (PyPI ``llama-index-llms-openai``, in its own venv) against the
gateway: chat, stream, and a tool round trip. LlamaIndex sends explicit ``null`` for every field it
does not set (``include``, ``previous_response_id``…), which must mean the default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.clients.conftest import RecordedGateway
from tests.clients.support import (
    SCRIPTS,
    WEATHER,
    assert_weather_reached_model,
    push_weather_round_trip,
    run_client,
)
from tests.support.upstream import Reply, ScriptedUpstream


def run_llamaindex(cache: Path, gw: RecordedGateway, scenario: str) -> dict[str, Any]:
    python = str(cache / "llamaindex" / "bin" / "python")
    script = str(SCRIPTS / "llamaindex_responses.py")
    return run_client([python, script, gw.base_url, scenario])


def test_chat(clients_cache: Path, gw: RecordedGateway, upstream: ScriptedUpstream) -> None:
    upstream.push(Reply(content="Hello from the gateway."))
    assert run_llamaindex(clients_cache, gw, "chat") == {"text": "Hello from the gateway."}
    (sent,) = gw.recorder.bodies()
    assert None in sent.values()  # what LlamaIndex really sends: explicit nulls


def test_stream(clients_cache: Path, gw: RecordedGateway, upstream: ScriptedUpstream) -> None:
    upstream.push(Reply(content="Streaming through the gateway.", chunk_size=5))
    result = run_llamaindex(clients_cache, gw, "stream")
    assert result["text"] == "Streaming through the gateway."
    assert result["chunks"] >= 6
    (sent,) = gw.recorder.bodies()
    assert sent["stream"] is True


def test_tool_round_trip(
    clients_cache: Path, gw: RecordedGateway, upstream: ScriptedUpstream
) -> None:
    push_weather_round_trip(upstream, "get_weather")
    result = run_llamaindex(clients_cache, gw, "tool")
    assert (result["tool"], result["kwargs"]) == ("get_weather", {"city": "Paris"})
    assert result["output"] == WEATHER
    assert result["text"] == "Sunny in Paris."
    assert_weather_reached_model(upstream)
