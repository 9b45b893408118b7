"""Tool outputs with images and files (Codex's ``view_image``), refusals by name, and the one
system message chat templates accept."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any, cast

import httpx
import openai
import pytest
from openai.types.responses import (
    FunctionToolParam,
    ResponseFunctionCallOutputItemListParam,
    ResponseFunctionCallOutputItemParam,
    ResponseFunctionToolCallParam,
    ResponseInputParam,
)
from openai.types.responses.response_input_param import FunctionCallOutput
from openai.types.responses.tool_param import Mcp

from responses_gateway.app import create_app
from tests.conftest import Gateway, gateway_settings
from tests.support.mcp_servers import PNG_BYTES, McpTestServers
from tests.support.serving import serve_in_thread
from tests.support.upstream import Reply, ScriptedUpstream, ToolCall

PNG = "data:image/png;base64,iVBORw0KGgo="
JPEG = "data:image/jpeg;base64,/9j/4AAQ"


def _call(call_id: str) -> ResponseFunctionToolCallParam:
    return {"type": "function_call", "call_id": call_id, "name": "view_image", "arguments": "{}"}


def _output(
    call_id: str, output: str | ResponseFunctionCallOutputItemListParam
) -> FunctionCallOutput:
    return {"type": "function_call_output", "call_id": call_id, "output": output}


def test_images_follow_the_tool_messages(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    client.responses.create(
        model="m",
        store=False,
        input=[
            {"role": "user", "content": "look at both"},
            _call("c1"),
            _call("c2"),
            _output(
                "c1",
                [
                    {"type": "input_text", "text": "a cat"},
                    {"type": "input_image", "image_url": PNG, "detail": "high"},
                ],
            ),
            _output("c2", [{"type": "input_image", "image_url": JPEG}]),
        ],
    )
    messages = upstream.last["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "tool", "user"]
    assert messages[2] == {"role": "tool", "tool_call_id": "c1", "content": "a cat"}
    assert messages[3]["tool_call_id"] == "c2" and messages[3]["content"]  # never empty
    assert messages[4]["content"] == [
        {"type": "text", "text": "Output of tool call c1:"},
        {"type": "image_url", "image_url": {"url": PNG, "detail": "high"}},
        {"type": "text", "text": "Output of tool call c2:"},
        {"type": "image_url", "image_url": {"url": JPEG, "detail": "auto"}},
    ]


def test_images_are_kept_in_a_stored_chain(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(tool_calls=[ToolCall("view_image", "{}", id="c1")]))
    first = client.responses.create(
        model="m",
        input="look",
        # The SDK's FunctionToolParam requires ``strict``; clients may leave it out, as here.
        tools=[
            cast(
                FunctionToolParam,
                {"type": "function", "name": "view_image", "parameters": {"type": "object"}},
            )
        ],
    )
    second = client.responses.create(
        model="m",
        previous_response_id=first.id,
        input=[_output("c1", [{"type": "input_image", "image_url": PNG}])],
    )
    client.responses.create(model="m", previous_response_id=second.id, input="and now?")
    messages = upstream.last["messages"]
    assert [m["role"] for m in messages] == [
        "user",
        "assistant",
        "tool",
        "user",
        "assistant",
        "user",
    ]
    assert messages[3]["content"][1]["image_url"]["url"] == PNG


def test_a_file_goes_as_file_data(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    data = "data:application/pdf;base64,JVBERi0x"
    client.responses.create(
        model="m",
        input=[
            _call("c1"),
            _output("c1", [{"type": "input_file", "file_data": data, "filename": "a.pdf"}]),
            {"role": "user", "content": [{"type": "input_file", "file_data": data}]},
        ],
    )
    messages = upstream.last["messages"]
    assert messages[2]["content"][1] == {
        "type": "file",
        "file": {"file_data": data, "filename": "a.pdf"},
    }
    assert messages[3]["content"] == [{"type": "file", "file": {"file_data": data}}]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("part", "field"),
    [
        ({"type": "input_image", "file_id": "file-abc"}, "file_id"),
        ({"type": "input_file", "file_id": "file-abc"}, "file_id"),
        ({"type": "input_file", "file_url": "https://example.com/a.pdf"}, "file_url"),
        ({"type": "input_image"}, "image_url"),
    ],
)
def test_parts_no_backend_can_take_are_refused_by_name(
    gateway: Gateway,
    upstream: ScriptedUpstream,
    part: ResponseFunctionCallOutputItemParam,
    field: str,
    stream: bool,
) -> None:
    """Before anything starts: a 400 naming the part, streamed or not."""
    body = {
        "model": "m",
        "stream": stream,
        "input": [_call("c1"), _output("c1", [{"type": "input_text", "text": "x"}, part])],
    }
    _refused(gateway, upstream, body, f"input[1].output[1].{field}", field)


def _refused(
    gateway: Gateway, upstream: ScriptedUpstream, body: dict[str, Any], param: str, word: str
) -> None:
    answer = httpx.post(gateway.base_url + "/responses", json=body)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["param"] == param
    assert error["code"] == "unsupported_content" and word in error["message"]
    assert upstream.requests == []


def test_images_in_a_developer_message_are_refused(
    gateway: Gateway, upstream: ScriptedUpstream
) -> None:
    """A chat system message takes text only: the image would be lost, so it is refused."""
    image = {"type": "input_image", "image_url": PNG}
    message = {"role": "developer", "content": [{"type": "input_text", "text": "x"}, image]}
    body = {"model": "m", "input": [message]}
    _refused(gateway, upstream, body, "input[0].content[1].type", "developer")


def test_leading_system_messages_become_one(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    client.responses.create(
        model="m",
        instructions="Be brief.",
        input=[
            {"role": "developer", "content": "Sandbox: read-only."},
            {"role": "system", "content": [{"type": "input_text", "text": "Tools: shell."}]},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "Hello."},
            {"role": "developer", "content": "Sandbox: full access now."},
            {"role": "user", "content": "go"},
        ],
    )
    assert upstream.last["messages"] == [
        {"role": "system", "content": "Be brief.\n\nSandbox: read-only.\n\nTools: shell."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "[System message]\nSandbox: full access now."},
        {"role": "user", "content": "go"},
    ]


def test_instructions_join_a_chains_developer_message(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    first = client.responses.create(
        model="m",
        input=[{"role": "developer", "content": "Rules."}, {"role": "user", "content": "a"}],
    )
    client.responses.create(
        model="m", instructions="Now.", input="b", previous_response_id=first.id
    )
    messages = upstream.last["messages"]
    assert messages[0] == {"role": "system", "content": "Now.\n\nRules."}
    assert [m["role"] for m in messages[1:]] == ["user", "assistant", "user"]


def test_a_plain_chain_keeps_its_messages_and_shapes_a_late_developer_one(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    """The earlier turns of a chain with no system message are sent as they are (unshaped),
    what comes after them still is."""
    upstream.push(Reply("One."), Reply("Two."), Reply("Three."))
    first = client.responses.create(model="m", input="a")
    second = client.responses.create(model="m", input="b", previous_response_id=first.id)
    late: ResponseInputParam = [
        {"role": "developer", "content": "Be terse."},
        {"role": "user", "content": "c"},
    ]
    client.responses.create(
        model="m", instructions="Rules.", input=late, previous_response_id=second.id
    )
    assert upstream.last["messages"] == [
        {"role": "system", "content": "Rules."},
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "One."},
        {"role": "user", "content": "b"},
        {"role": "assistant", "content": "Two."},
        {"role": "user", "content": "[System message]\nBe terse."},
        {"role": "user", "content": "c"},
    ]


@pytest.fixture
def system_gateway(database_url: str, upstream: ScriptedUpstream) -> Iterator[Gateway]:
    settings = gateway_settings(database_url, upstream.base_url, upstream_late_system="system")
    with serve_in_thread(create_app(settings)) as url:
        yield Gateway(url, settings)


def test_late_system_messages_kept_when_the_backend_takes_them(
    system_gateway: Gateway, upstream: ScriptedUpstream
) -> None:
    system_gateway.client().responses.create(
        model="m",
        input=[
            {"role": "user", "content": "hi"},
            {"role": "developer", "content": "Switch to French."},
        ],
    )
    assert upstream.last["messages"] == [
        {"role": "user", "content": "hi"},
        {"role": "system", "content": "Switch to French."},
    ]


def test_mcp_images_reach_the_model(
    client: openai.OpenAI, upstream: ScriptedUpstream, mcp: McpTestServers
) -> None:
    upstream.push(Reply(tool_calls=[ToolCall("picture", "{}")]), Reply(content="A red dot."))
    server: Mcp = {"type": "mcp", "server_label": "pics", "server_url": mcp.streamable_url}
    response = client.responses.create(model="m", input="draw", tools=[server])
    call = next(item for item in response.output if item.type == "mcp_call")
    assert call.output == '{"type": "image", "mime_type": "image/png"}'  # a string, as OpenAI's
    messages = upstream.last["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "user"]
    assert messages[2]["content"] == call.output
    image = base64.b64encode(PNG_BYTES).decode()
    assert messages[3]["content"] == [
        {"type": "text", "text": f"Output of tool call {call.id}:"},
        {
            "type": "image_url",
            "image_url": {"url": f"data:image/png;base64,{image}", "detail": "auto"},
        },
    ]
