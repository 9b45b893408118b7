"""Tools against a real llama-server: a ``tool_choice`` naming a function is honoured (sent as
``required`` with only that tool), and a function call's continuation is accepted."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.backends.conftest import MODEL
from tests.conftest import Gateway

GREEDY = {"model": MODEL, "temperature": 0}


def _tool(name: str, description: str, argument: str) -> dict[str, Any]:
    return {
        "type": "function",
        "name": name,
        "description": description,
        "parameters": {
            "type": "object",
            "properties": {argument: {"type": "string"}},
            "required": [argument],
        },
    }


WEATHER = _tool("get_weather", "Weather for a city", "city")
TIME = _tool("get_time", "Local time in a time zone", "zone")


@pytest.mark.parametrize("forced", ["get_weather", "get_time"])
def test_tool_choice_naming_a_function_is_honoured(
    llama_tools_gateway: Gateway, forced: str
) -> None:
    client = llama_tools_gateway.client()
    response = client.responses.create(
        input="What is the weather in Paris?",
        tools=[WEATHER, TIME],  # type: ignore[list-item]
        tool_choice={"type": "function", "name": forced},
        max_output_tokens=64,
        **GREEDY,  # type: ignore[arg-type]
    )
    assert response.status == "completed"
    calls = [item for item in response.output if item.type == "function_call"]
    assert calls and {call.name for call in calls} == {forced}
    assert isinstance(orjson.loads(calls[0].arguments), dict)


def test_function_call_continuation_is_accepted(llama_gateway: Gateway) -> None:
    """The assistant message carrying ``tool_calls`` goes with ``content: ""``."""
    client = llama_gateway.client()
    call = {
        "type": "function_call",
        "call_id": "call_paris",
        "name": "get_weather",
        "arguments": '{"city": "Paris"}',
    }
    output = {"type": "function_call_output", "call_id": "call_paris", "output": "sunny, 21 C"}
    first = client.responses.create(
        input=[{"role": "user", "content": "Weather in Paris?"}, call, output],  # type: ignore[list-item]
        tools=[WEATHER],  # type: ignore[list-item]
        max_output_tokens=24,
        **GREEDY,  # type: ignore[arg-type]
    )
    assert first.status in ("completed", "incomplete") and first.output_text
    second = client.responses.create(
        input="And tomorrow?",
        previous_response_id=first.id,
        max_output_tokens=8,
        **GREEDY,  # type: ignore[arg-type]
    )
    assert second.status in ("completed", "incomplete") and second.output_text
