"""Tools that do not arrive as plain ``tools`` entries: ``additional_tools`` input items,
``tool_search`` with ``defer_loading`` tools, and hosted tools the gateway cannot run
(``GATEWAY_HOSTED_TOOLS`` = ``omit`` | ``reject``), on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from typing import Any, cast

import httpx
import openai
import pytest
from openai.types.responses import (
    CustomToolParam,
    FunctionToolParam,
    NamespaceToolParam,
    ResponseFunctionToolCall,
    ToolParam,
)
from openai.types.responses.response_input_param import AdditionalTools

from responses_gateway.service import tool_shapes
from tests.conftest import Gateway, MakeGateway
from tests.support.sdk_streams import MODEL, error_param, output_item
from tests.support.upstream import Reply, ScriptedUpstream, ToolCall, offered
from tests.test_api_client_tool_shapes import APPLY_PATCH, DOCS, MULTIPLY

# The SDK's FunctionToolParam requires ``strict``; clients may leave it out, and these do.
SHELL = cast(
    FunctionToolParam,
    {"type": "function", "name": "shell", "parameters": {"type": "object", "properties": {}}},
)


def test_additional_tools_count_as_tools(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    extra: AdditionalTools = {
        "type": "additional_tools",
        "role": "developer",
        "tools": [DOCS, APPLY_PATCH],
    }
    upstream.push(Reply(tool_calls=[ToolCall("mcp__docs__multiply", "{}", id="a1")]))
    response = client.responses.create(
        model=MODEL,
        tools=[SHELL],
        input=[extra, {"role": "user", "content": "6 times 7?"}],
    )
    assert offered(upstream.last) == ["shell", "mcp__docs__multiply", "apply_patch"]
    assert upstream.last["messages"] == [{"role": "user", "content": "6 times 7?"}]
    call = output_item(response, 0, ResponseFunctionToolCall)
    assert (call.name, call.namespace) == ("multiply", "mcp__docs")
    assert [tool.type for tool in response.tools] == ["function"]  # the echo is `tools` only
    items = client.responses.input_items.list(response.id, order="asc").data
    assert [item.type for item in items] == ["additional_tools", "message"]


def test_additional_tools_item_is_validated(gateway: Gateway, upstream: ScriptedUpstream) -> None:
    extra = {"type": "additional_tools", "role": "developer", "tools": [{"type": "custom"}]}
    body = {"model": MODEL, "input": [{"role": "user", "content": "x"}, extra]}
    answer = httpx.post(gateway.base_url + "/responses", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "input[1].tools[0].name"
    assert upstream.requests == []


def test_deferred_tools_are_offered_and_tool_search_is_not(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    multiply = cast(FunctionToolParam, {**MULTIPLY, "defer_loading": True})  # no "strict"
    # The SDK's namespace type has no defer_loading; the API's namespaces take one.
    docs: NamespaceToolParam = {  # type: ignore[typeddict-unknown-key]
        **DOCS,
        "name": "later",
        "defer_loading": True,
    }
    apply_patch: CustomToolParam = {**APPLY_PATCH, "defer_loading": True}
    tools: list[ToolParam] = [{"type": "tool_search"}, multiply, docs, apply_patch]
    response = client.responses.create(model=MODEL, input="x", tools=tools)
    assert offered(upstream.last) == ["multiply", "later__multiply", "apply_patch"]
    assert [tool.type for tool in response.tools] == [
        "tool_search",
        "function",
        "namespace",
        "custom",
    ]


HOSTED: list[ToolParam] = [
    {"type": "web_search", "search_context_size": "low"},
    {"type": "image_generation"},
    {"type": "file_search", "vector_store_ids": ["vs_1"]},
    {"type": "code_interpreter", "container": {"type": "auto"}},
    {"type": "local_shell"},
    {"type": "apply_patch"},
]


def test_hosted_tools_are_omitted_by_default(
    client: openai.OpenAI, upstream: ScriptedUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    tool_shapes._omitted_logged.discard("image_generation")  # logged once per process
    with caplog.at_level(logging.WARNING, logger="responses_gateway"):
        for _ in range(2):
            response = client.responses.create(model=MODEL, input="x", tools=[*HOSTED, SHELL])
            assert offered(upstream.last) == ["shell"]
    echoed = response.model_dump(exclude_none=True)["tools"]
    assert echoed[0] == HOSTED[0] and echoed[2] == HOSTED[2]
    assert [tool["type"] for tool in echoed] == [t["type"] for t in HOSTED] + ["function"]
    warnings = [r.getMessage() for r in caplog.records if "'image_generation'" in r.getMessage()]
    assert len(warnings) == 1 and "GATEWAY_HOSTED_TOOLS" in warnings[0]


@pytest.mark.parametrize(
    ("choice", "tools"),
    [
        ({"type": "web_search_preview"}, [*HOSTED, SHELL]),
        ({"type": "image_generation"}, [*HOSTED, SHELL]),
        ({"type": "apply_patch"}, [*HOSTED, SHELL]),
        ("required", HOSTED),  # nothing left to require
    ],
)
def test_forcing_an_omitted_hosted_tool_is_a_400(
    gateway: Gateway, upstream: ScriptedUpstream, choice: Any, tools: list[ToolParam]
) -> None:
    body = {"model": MODEL, "input": "x", "tools": tools, "tool_choice": choice}
    answer = httpx.post(gateway.base_url + "/responses", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "tool_choice"
    assert upstream.requests == []


def test_hosted_tools_rejected_on_request(
    make_gateway: MakeGateway, upstream: ScriptedUpstream
) -> None:
    client = make_gateway(hosted_tools="reject").client()
    for index, tool in enumerate(HOSTED):
        with pytest.raises(openai.BadRequestError) as caught:
            client.responses.create(model=MODEL, input="x", tools=[SHELL, tool])
        error = caught.value.body
        assert isinstance(error, dict), index
        assert (error["code"], error["param"]) == ("unsupported_tool_type", "tools[1].type")
    inside: AdditionalTools = {
        "type": "additional_tools",
        "role": "developer",
        "tools": [HOSTED[1]],
    }
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=MODEL, input=[inside])
    assert error_param(caught.value) == "input[0].tools[0].type"
    assert upstream.requests == []
