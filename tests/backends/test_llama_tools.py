"""Tools against a real llama-server: a ``tool_choice`` naming a function is honoured (sent as
``required`` with only that tool), and a function call's continuation is accepted."""

from __future__ import annotations

from typing import Any, TypedDict, cast

import orjson
import pytest
from openai.types.responses import FunctionToolParam, ResponseFunctionToolCallParam
from openai.types.responses.response_input_param import FunctionCallOutput

from tests.backends.conftest import MODEL
from tests.conftest import Gateway


class Greedy(TypedDict):
    """Typed so that ``**GREEDY`` is checked against the SDK's keyword arguments."""

    model: str
    temperature: float


GREEDY: Greedy = {"model": MODEL, "temperature": 0}


def _tool(name: str, description: str, argument: str) -> FunctionToolParam:
    tool: dict[str, Any] = {
        "type": "function",
        "name": name,
        "description": description,
        "parameters": {
            "type": "object",
            "properties": {argument: {"type": "string"}},
            "required": [argument],
        },
    }
    # The SDK's type requires ``strict``; these tools leave it out, as many clients do.
    return cast(FunctionToolParam, tool)


WEATHER = _tool("get_weather", "Weather for a city", "city")
TIME = _tool("get_time", "Local time in a time zone", "zone")


@pytest.mark.parametrize("forced", ["get_weather", "get_time"])
def test_tool_choice_naming_a_function_is_honoured(
    llama_tools_gateway: Gateway, forced: str
) -> None:
    client = llama_tools_gateway.client()
    response = client.responses.create(
        input="What is the weather in Paris?",
        tools=[WEATHER, TIME],
        tool_choice={"type": "function", "name": forced},
        max_output_tokens=64,
        **GREEDY,
    )
    assert response.status == "completed"
    calls = [item for item in response.output if item.type == "function_call"]
    assert calls and {call.name for call in calls} == {forced}
    assert isinstance(orjson.loads(calls[0].arguments), dict)


def test_function_call_continuation_is_accepted(llama_gateway: Gateway) -> None:
    """The assistant message carrying ``tool_calls`` goes with ``content: ""``."""
    client = llama_gateway.client()
    call: ResponseFunctionToolCallParam = {
        "type": "function_call",
        "call_id": "call_paris",
        "name": "get_weather",
        "arguments": '{"city": "Paris"}',
    }
    output: FunctionCallOutput = {
        "type": "function_call_output",
        "call_id": "call_paris",
        "output": "sunny, 21 C",
    }
    first = client.responses.create(
        input=[{"role": "user", "content": "Weather in Paris?"}, call, output],
        tools=[WEATHER],
        max_output_tokens=24,
        **GREEDY,
    )
    assert first.status in ("completed", "incomplete") and first.output_text
    second = client.responses.create(
        input="And tomorrow?",
        previous_response_id=first.id,
        max_output_tokens=8,
        **GREEDY,
    )
    assert second.status in ("completed", "incomplete") and second.output_text
