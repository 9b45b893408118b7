"""Non-streamed creates through the official SDK: mapping to chat completions and back."""

from __future__ import annotations

import json
from typing import Any, cast

import httpx
import openai
import pytest
from openai.types.responses import FunctionToolParam, ResponseOutputMessage
from openai.types.responses.response_create_params import ToolChoice

from tests.conftest import Gateway
from tests.support.checks import create_checked
from tests.support.upstream import Reply, ScriptedUpstream, ToolCall

# No ``strict``, which the SDK's type requires and clients leave out.
WEATHER = cast(
    FunctionToolParam,
    {
        "type": "function",
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
)
WEATHER_IN_CHAT = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": WEATHER["parameters"],
        "description": "Weather for a city",
    },
}
"""What the gateway offers the upstream for ``WEATHER``."""


def test_text_response_has_every_field(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    upstream.push(Reply(content="Hi there", usage={"prompt_tokens": 5, "completion_tokens": 2}))
    response = create_checked(client, model="m1", input="hello")
    assert response.id.startswith("resp_") and response.status == "completed"
    assert response.output_text == "Hi there"
    message = response.output[0]
    assert message.type == "message" and message.id.startswith("msg_")
    assert message.status == "completed" and message.role == "assistant"
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (5, 2)
    assert response.usage.total_tokens == 7
    assert response.completed_at is not None
    assert upstream.last["messages"] == [{"role": "user", "content": "hello"}]
    assert upstream.last["model"] == "m1" and "stream" not in upstream.last


def test_instructions_apply_to_one_turn_only(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(content="one"), Reply(content="two"))
    first = client.responses.create(model="m", input="a", instructions="Be terse.")
    assert upstream.last["messages"][0] == {"role": "system", "content": "Be terse."}
    assert first.instructions == "Be terse."
    second = client.responses.create(model="m", input="b", previous_response_id=first.id)
    assert upstream.last["messages"] == [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "one"},
        {"role": "user", "content": "b"},
    ]
    assert second.instructions is None and second.previous_response_id == first.id


def test_chain_sends_whole_history_oldest_first(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    previous: str | None = None
    for turn in range(4):
        upstream.push(Reply(content=f"answer {turn}"))
        previous = client.responses.create(
            model="m", input=f"question {turn}", previous_response_id=previous
        ).id
    expected = []
    for turn in range(4):
        expected += [
            {"role": "user", "content": f"question {turn}"},
            {"role": "assistant", "content": f"answer {turn}"},
        ]
    assert upstream.last["messages"] == expected[:-1]


def test_store_false_is_not_kept(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    response = create_checked(client, model="m", input="secret", store=False)
    assert response.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="m", input="next", previous_response_id=response.id)
    assert caught.value.code == "previous_response_not_found"
    assert caught.value.param == "previous_response_id"


def test_unknown_previous_response(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="m", input="x", previous_response_id="resp_nope")
    assert caught.value.code == "previous_response_not_found"


def answer_weather_calls(client: openai.OpenAI, response_id: str, **outputs: str) -> Any:
    """The client's next turn after ``response_id``: its result for each call id, in order."""
    return client.responses.create(
        model="m",
        previous_response_id=response_id,
        tools=[WEATHER],
        input=[
            {"type": "function_call_output", "call_id": call_id, "output": output}
            for call_id, output in outputs.items()
        ],
    )


def test_function_tools_and_parallel_calls(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    upstream.push(
        Reply(
            content="Checking.",
            tool_calls=[
                ToolCall("get_weather", '{"city": "Paris"}', id="call_a"),
                ToolCall("get_weather", '{"city": "Oslo"}', id="call_b"),
            ],
        )
    )
    response = create_checked(
        client,
        model="m",
        input="weather?",
        tools=[WEATHER],
        parallel_tool_calls=True,
        tool_choice="auto",
    )
    sent = upstream.last
    assert sent["tools"] == [WEATHER_IN_CHAT]
    assert sent["tool_choice"] == "auto" and sent["parallel_tool_calls"] is True
    assert response.status == "completed"
    kinds = [item.type for item in response.output]
    assert kinds == ["message", "function_call", "function_call"]
    calls = [item for item in response.output if item.type == "function_call"]
    assert [c.call_id for c in calls] == ["call_a", "call_b"]
    assert all(c.id and c.id.startswith("fc_") and c.status == "completed" for c in calls)
    assert json.loads(calls[1].arguments) == {"city": "Oslo"}
    tool = response.tools[0]
    assert tool.type == "function" and tool.name == "get_weather"

    upstream.push(Reply(content="Sunny in both."))
    final = answer_weather_calls(client, response.id, call_a="sunny", call_b="sunny too")
    assert final.output_text == "Sunny in both."
    messages = upstream.last["messages"]
    assert messages[1]["role"] == "assistant" and messages[1]["content"] == "Checking."
    assert [c["id"] for c in messages[1]["tool_calls"]] == ["call_a", "call_b"]
    assert messages[2:] == [
        {"role": "tool", "tool_call_id": "call_a", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_b", "content": "sunny too"},
    ]


def test_function_call_output_needs_a_matching_call(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(
            model="m",
            input=[{"type": "function_call_output", "call_id": "call_missing", "output": "x"}],
        )
    assert caught.value.param == "input[0]"
    assert caught.value.type == "invalid_request_error"


def test_full_history_without_chaining(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    """The Codex path: store=false and the whole conversation in input, reasoning passed back."""
    client.responses.create(
        model="m",
        store=False,
        include=["reasoning.encrypted_content"],
        input=[
            {"role": "developer", "content": "Rules."},
            {"role": "user", "content": [{"type": "input_text", "text": "look"}]},
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "opaque"},
            {  # type: ignore[misc, list-item]  # without the id and status the SDK requires
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "calling", "annotations": []}],
            },
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "done"},
            {  # type: ignore[misc, list-item]  # an image without the ``detail`` the SDK requires
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "and this"},
                    {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
                ],
            },
        ],
    )
    assert upstream.last["messages"] == [
        {"role": "system", "content": "Rules."},
        {"role": "user", "content": "look"},
        {
            "role": "assistant",
            "content": "calling",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "done"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "and this"},
                {
                    "type": "image_url",
                    "image_url": {"url": "data:image/png;base64,AAAA", "detail": "auto"},
                },
            ],
        },
    ]


def test_item_reference_resolves_stored_items(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(content="stored answer"))
    stored = client.responses.create(model="m", input="q").output[0]
    assert isinstance(stored, ResponseOutputMessage)
    upstream.push(Reply(content="ok"))
    client.responses.create(
        model="m",
        input=[
            {"type": "item_reference", "id": stored.id},
            {"role": "user", "content": "more"},
        ],
    )
    assert upstream.last["messages"] == [
        {"role": "assistant", "content": "stored answer"},
        {"role": "user", "content": "more"},
    ]
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="m", input=[{"type": "item_reference", "id": "msg_nope"}])
    assert caught.value.param == "input[0].id"


@pytest.mark.parametrize(
    ("reply", "text", "reasoning"),
    [
        (Reply(content="The answer.", reasoning="Let me think."), "The answer.", "Let me think."),
        (Reply(content="<think>Hmm, 2+2.</think>\n\nIt is 4."), "It is 4.", "Hmm, 2+2."),
    ],
)
def test_reasoning_becomes_a_reasoning_item(
    client: openai.OpenAI, upstream: ScriptedUpstream, reply: Reply, text: str, reasoning: str
) -> None:
    upstream.push(reply)
    response = create_checked(client, model="m", input="2+2?")
    item = response.output[0]
    assert item.type == "reasoning" and item.id.startswith("rs_")
    assert item.content is not None and item.content[0].text == reasoning
    assert response.output_text == text
    assert "<think>" not in response.output_text


@pytest.mark.parametrize(
    ("finish", "reason"), [("length", "max_output_tokens"), ("content_filter", "content_filter")]
)
def test_truncated_output_is_incomplete(
    client: openai.OpenAI, upstream: ScriptedUpstream, finish: str, reason: str
) -> None:
    upstream.push(Reply(content="partial", finish_reason=finish))
    response = create_checked(client, model="m", input="long", max_output_tokens=5)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == reason
    assert response.output[0].status == "incomplete"
    assert upstream.last["max_tokens"] == 5
    assert response.usage is not None


@pytest.mark.parametrize("names", ["chat", "responses"])
def test_usage_details_are_mapped(
    client: openai.OpenAI, upstream: ScriptedUpstream, names: str
) -> None:
    usage = {
        "prompt_tokens": 100,
        "completion_tokens": 40,
        "cached_tokens": 64,
        "reasoning_tokens": 30,
    }
    upstream.push(Reply(content="x", usage=usage, usage_names=names))
    response = create_checked(client, model="m", input="u")
    assert response.usage is not None
    assert response.usage.input_tokens == 100 and response.usage.output_tokens == 40
    assert response.usage.total_tokens == 140
    assert response.usage.input_tokens_details.cached_tokens == 64
    assert response.usage.output_tokens_details.reasoning_tokens == 30


def test_parameters_reach_the_upstream(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    upstream.push(Reply(content='{"a": 1}'))
    response = create_checked(
        client,
        model="m",
        input="json please",
        temperature=0.3,
        top_p=0.9,
        max_output_tokens=64,
        reasoning={"effort": "low"},
        safety_identifier="user-42",
        metadata={"team": "core"},
        text={"format": {"type": "json_schema", "name": "thing", "schema": schema, "strict": True}},
        tools=[WEATHER],
        tool_choice={"type": "function", "name": "get_weather"},
        parallel_tool_calls=False,
        extra_body={"some_future_field": {"x": 1}},
    )
    sent = upstream.last
    assert sent["temperature"] == 0.3 and sent["top_p"] == 0.9 and sent["max_tokens"] == 64
    assert sent["reasoning_effort"] == "low" and sent["user"] == "user-42"
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "thing", "schema": schema, "strict": True},
    }
    assert sent["tool_choice"] == "required"  # a named function: only it, required
    assert [tool["function"]["name"] for tool in sent["tools"]] == ["get_weather"]
    assert sent["parallel_tool_calls"] is False
    assert "some_future_field" not in sent
    assert response.metadata == {"team": "core"}
    assert response.temperature == 0.3 and response.top_p == 0.9
    assert response.text.format.type == "json_schema"


@pytest.mark.parametrize(
    ("choice", "expected_choice", "expected_tools"),
    [
        ("none", "none", ["get_weather", "get_time"]),
        ("required", "required", ["get_weather", "get_time"]),
        ({"type": "function", "name": "get_time"}, "required", ["get_time"]),
        (
            {
                "type": "allowed_tools",
                "mode": "required",
                "tools": [{"type": "function", "name": "get_time"}],
            },
            "required",
            ["get_time"],
        ),
    ],
)
def test_tool_choice_forms(
    client: openai.OpenAI,
    upstream: ScriptedUpstream,
    choice: ToolChoice,
    expected_choice: object,
    expected_tools: list[str],
) -> None:
    time_tool: FunctionToolParam = {**WEATHER, "name": "get_time", "description": "Time"}
    client.responses.create(model="m", input="t", tools=[WEATHER, time_tool], tool_choice=choice)
    assert upstream.last["tool_choice"] == expected_choice
    assert [t["function"]["name"] for t in upstream.last["tools"]] == expected_tools


def test_json_object_format(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    upstream.push(Reply(content="{}"))
    client.responses.create(model="m", input="j", text={"format": {"type": "json_object"}})
    assert upstream.last["response_format"] == {"type": "json_object"}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "no model"}, "model"),
        ({"model": "m", "input": "x", "temperature": 3}, "temperature"),
        ({"model": "m", "input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
        ({"model": "m", "input": [{"type": "nonsense"}]}, "input[0].type"),
        ({"model": "m", "input": "x", "metadata": {str(i): "v" for i in range(17)}}, "metadata"),
        ({"model": "m", "input": "x", "metadata": {"k": "v" * 513}}, "metadata"),
        ({"model": "m", "input": "x", "tools": [{"type": "teleport"}]}, "tools[0].type"),
        ({"model": "m", "input": "x", "tools": [{"name": "f"}]}, "tools[0].type"),
        ({"model": "m", "input": "x", "background": True, "store": False}, "background"),
        ({"model": "m", "input": "x", "truncation": "auto"}, "truncation"),
        ({"model": "m", "input": "x", "conversation": {"id": 5}}, "conversation"),
        (
            {"model": "m", "input": "x", "tool_choice": {"type": "function", "name": "nope"}},
            "tool_choice",
        ),
        ({"model": "m", "input": "x", "include": ["message.output_text.logprobs"]}, "include"),
    ],
)
def test_bad_input_is_a_400_envelope(gateway: Gateway, body: dict[str, object], param: str) -> None:
    answer = httpx.post(gateway.base_url + "/responses", json=body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert error["message"]


def test_body_that_is_not_json(gateway: Gateway) -> None:
    answer = httpx.post(
        gateway.base_url + "/responses",
        content=b"{nope",
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_json"


def test_upstream_4xx_keeps_status_and_message(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    upstream.push(
        Reply(
            status=404,
            error={
                "error": {"message": "The model 'nope' does not exist", "code": "model_not_found"}
            },
        )
    )
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="nope", input="x")
    assert "does not exist" in caught.value.message
    upstream.push(Reply(status=400, error={"error": {"message": "context length exceeded"}}))
    with pytest.raises(openai.BadRequestError) as bad:
        client.responses.create(model="m", input="x")
    assert "context length exceeded" in bad.value.message


def test_upstream_5xx_and_unreachable_are_502(
    client: openai.OpenAI, upstream: ScriptedUpstream, database_url: str
) -> None:
    upstream.push(Reply(status=500, error={"error": {"message": "engine crashed"}}))
    with pytest.raises(openai.InternalServerError) as caught:
        client.responses.create(model="m", input="x")
    assert caught.value.status_code == 502
    assert "engine crashed" in caught.value.message
    assert "sk-upstream-secret" not in caught.value.message


def test_upstream_unreachable(database_url: str) -> None:
    from responses_gateway.app import create_app
    from tests.conftest import gateway_settings
    from tests.support.serving import serve_in_thread

    settings = gateway_settings(database_url, "http://127.0.0.1:9/v1")
    with serve_in_thread(create_app(settings)) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
        with pytest.raises(openai.InternalServerError) as caught:
            client.responses.create(model="m", input="x")
        # Streamed, the request is never written: the lifecycle events still come first.
        kinds = [e.type for e in client.responses.create(model="m", input="x", stream=True)]
    assert caught.value.status_code == 502
    assert caught.value.body is not None
    assert kinds == ["response.created", "response.in_progress", "response.failed"]
