"""Namespaced and custom (freeform) client tools through the API with the official ``openai``
SDK: what the upstream is offered, the items the client gets back (streamed and not), and the
chat history replayed from them, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any, cast

import httpx
import openai
import pytest
from openai.types.responses import (
    CustomTool,
    CustomToolParam,
    FunctionToolParam,
    NamespaceToolParam,
    ResponseCustomToolCall,
    ResponseCustomToolCallInputDeltaEvent,
    ResponseCustomToolCallInputDoneEvent,
    ResponseCustomToolCallOutput,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionToolCall,
    ResponseOutputItemAddedEvent,
    ToolChoiceAllowedParam,
    ToolChoiceCustomParam,
    ToolChoiceFunctionParam,
)
from openai.types.responses.namespace_tool_param import ToolFunction
from openai.types.shared.custom_tool_input_format import Grammar

from tests.conftest import Gateway
from tests.support.sdk_streams import (
    MODEL,
    check_stream_invariants,
    event_at,
    events_of,
    output_item,
    run_stream,
    squash,
)
from tests.support.upstream import Reply, ScriptedUpstream, ToolCall, offered

MULTIPLY: ToolFunction = {
    "type": "function",
    "name": "multiply",
    "description": "Multiply two numbers.",
    "parameters": {"type": "object", "properties": {"a": {"type": "number"}}},
}
DOCS: NamespaceToolParam = {
    "type": "namespace",
    "name": "mcp__docs",
    "description": "The docs server.",
    "tools": [MULTIPLY],
}
# The same function offered on its own. The SDK's FunctionToolParam requires ``strict``; clients
# may leave it out, and these do, so the dicts are cast rather than given a ``strict``.
MULTIPLY_TOOL = cast(FunctionToolParam, MULTIPLY)
PLAIN_CLASH = cast(FunctionToolParam, {**MULTIPLY, "name": "mcp__docs__multiply"})  # flat name
GRAMMAR = 'start: begin_patch hunk+ end_patch\nbegin_patch: "*** Begin Patch" LF'
APPLY_PATCH: CustomToolParam = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Edit files.",
    "format": {"type": "grammar", "syntax": "lark", "definition": GRAMMAR},
}
PATCH = '*** Begin Patch\n*** Add File: hello.txt\n+hi "there"\n*** End Patch\n'


def function_named(request: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t["function"] for t in request["tools"] if t["function"]["name"] == name)


def assistant_calls(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        call["function"]
        for message in request["messages"]
        if message["role"] == "assistant"
        for call in message.get("tool_calls") or ()
    ]


# --------------------------------------------------------------------------- namespaces


def test_namespace_round_trip(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    """The model calls the flat name; the client gets name + namespace; its output continues
    the chain and the history replays the flat name."""
    upstream.push(Reply(tool_calls=[ToolCall("mcp__docs__multiply_2", '{"a": 6}', id="c1")]))
    first = client.responses.create(model=MODEL, input="6 times 7?", tools=[DOCS, PLAIN_CLASH])
    # The plain tool keeps its name even though it comes second; the order is the client's.
    assert offered(upstream.last) == ["mcp__docs__multiply_2", "mcp__docs__multiply"]
    namespaced = function_named(upstream.last, "mcp__docs__multiply_2")
    assert namespaced["parameters"] == MULTIPLY["parameters"]
    assert "The docs server." in namespaced["description"]
    call = output_item(first, 0, ResponseFunctionToolCall)
    assert (call.name, call.namespace, call.call_id, call.arguments) == (
        "multiply",
        "mcp__docs",
        "c1",
        '{"a": 6}',
    )
    upstream.push(Reply(content="42"))
    second = client.responses.create(
        model=MODEL,
        previous_response_id=first.id,
        tools=[DOCS, PLAIN_CLASH],
        input=[{"type": "function_call_output", "call_id": "c1", "output": "42"}],
    )
    assert second.output_text == "42"
    assert assistant_calls(upstream.last) == [
        {"name": "mcp__docs__multiply_2", "arguments": '{"a": 6}'}
    ]
    assert upstream.last["messages"][-1] == {"role": "tool", "tool_call_id": "c1", "content": "42"}
    stored = client.responses.retrieve(first.id).output[0]
    assert isinstance(stored, ResponseFunctionToolCall) and stored.namespace == "mcp__docs"


def test_namespaced_call_sent_back_as_input(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    """``store: false`` clients (Codex) send the whole history: a ``function_call`` with a
    ``namespace`` is rendered with the flat name the model was offered."""
    client.responses.create(
        model=MODEL,
        store=False,
        tools=[DOCS],
        input=[
            {"role": "user", "content": "6 times 7?"},
            {
                "type": "function_call",
                "call_id": "c9",
                "name": "multiply",
                "namespace": "mcp__docs",
                "arguments": "{}",
            },
            {"type": "function_call_output", "call_id": "c9", "output": "42"},
        ],
    )
    assert assistant_calls(upstream.last) == [{"name": "mcp__docs__multiply", "arguments": "{}"}]


def test_namespace_names_are_safe_and_unique(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    # Namespaces without a description: the SDK's type requires one, the API does not.
    other: NamespaceToolParam = {  # type: ignore[typeddict-item]
        "type": "namespace",
        "name": "my.tools",
        "tools": [MULTIPLY, APPLY_PATCH],
    }
    long: NamespaceToolParam = {  # type: ignore[typeddict-item]
        "type": "namespace",
        "name": "n" * 70,
        "tools": [MULTIPLY],
    }
    client.responses.create(model=MODEL, input="x", tools=[MULTIPLY_TOOL, DOCS, other, long])
    names = offered(upstream.last)
    assert names[:4] == [
        "multiply",
        "mcp__docs__multiply",
        "my_tools__multiply",
        "my_tools__apply_patch",
    ]
    assert names[4] == "n" * 64 and len(names) == len(set(names)) == 5


def test_namespace_call_streamed(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    upstream.push(Reply(tool_calls=[ToolCall("mcp__docs__multiply", '{"a": 6}', id="c2")]))
    events, final = run_stream(client, input="6 times 7?", tools=[DOCS])
    check_stream_invariants(events, final)
    added = events_of(events, ResponseOutputItemAddedEvent)[0].item
    assert isinstance(added, ResponseFunctionToolCall)
    assert (added.name, added.namespace) == ("multiply", "mcp__docs")
    deltas = events_of(events, ResponseFunctionCallArgumentsDeltaEvent)
    assert "".join(d.delta for d in deltas) == '{"a": 6}'
    call = output_item(final, 0, ResponseFunctionToolCall)
    assert (call.name, call.namespace) == ("multiply", "mcp__docs")


# --------------------------------------------------------------------------- custom tools


def test_custom_tool_offered_and_called(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    plain: CustomToolParam = {"type": "custom", "name": "note", "format": {"type": "text"}}
    bare: CustomToolParam = {"type": "custom", "name": "echo"}
    arguments = json.dumps({"input": PATCH})
    upstream.push(Reply(tool_calls=[ToolCall("apply_patch", arguments, id="p1")]))
    response = client.responses.create(
        model=MODEL, input="add hello.txt", tools=[APPLY_PATCH, plain, bare]
    )
    function = function_named(upstream.last, "apply_patch")
    assert function["parameters"]["properties"] == {
        "input": {"type": "string", "description": "The apply_patch input."}
    }
    assert function["parameters"]["required"] == ["input"]
    assert "Edit files." in function["description"] and GRAMMAR in function["description"]
    assert "free-form text" in function_named(upstream.last, "note")["description"]
    assert "free-form text" in function_named(upstream.last, "echo")["description"]
    call = output_item(response, 0, ResponseCustomToolCall)
    assert (call.name, call.call_id, call.input, call.namespace) == (
        "apply_patch",
        "p1",
        PATCH,
        None,
    )
    tool = response.tools[0]
    assert isinstance(tool, CustomTool) and isinstance(tool.format, Grammar)
    assert tool.format.definition == GRAMMAR


def test_custom_tool_call_streamed(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    upstream.push(Reply(tool_calls=[ToolCall("apply_patch", json.dumps({"input": PATCH}))]))
    events, final = run_stream(client, input="add hello.txt", tools=[APPLY_PATCH])
    check_stream_invariants(events, final)
    kinds = squash([e.type for e in events])
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.custom_tool_call_input.delta",
        "response.custom_tool_call_input.done",
        "response.output_item.done",
        "response.completed",
    ]
    added = event_at(events, 2, ResponseOutputItemAddedEvent).item
    assert isinstance(added, ResponseCustomToolCall)
    assert (added.type, added.name, added.input) == ("custom_tool_call", "apply_patch", "")
    deltas = [e.delta for e in events_of(events, ResponseCustomToolCallInputDeltaEvent)]
    [done] = events_of(events, ResponseCustomToolCallInputDoneEvent)
    called = output_item(final, 0, ResponseCustomToolCall)
    assert "".join(deltas) == done.input == PATCH == called.input
    assert len(deltas) >= 2  # the input streams as the model writes it


def test_custom_tool_output_continues(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    upstream.push(
        Reply(tool_calls=[ToolCall("apply_patch", json.dumps({"input": PATCH}), id="p2")])
    )
    first = client.responses.create(model=MODEL, input="add hello.txt", tools=[APPLY_PATCH])
    upstream.push(Reply(content="Done."))
    second = client.responses.create(
        model=MODEL,
        previous_response_id=first.id,
        tools=[APPLY_PATCH],
        input=[{"type": "custom_tool_call_output", "call_id": "p2", "output": "Success."}],
    )
    assert second.output_text == "Done."
    assert assistant_calls(upstream.last) == [
        {"name": "apply_patch", "arguments": json.dumps({"input": PATCH}, separators=(",", ":"))}
    ]
    assert upstream.last["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "p2",
        "content": "Success.",
    }
    (item,) = client.responses.input_items.list(second.id).data
    assert isinstance(item, ResponseCustomToolCallOutput) and item.call_id == "p2"


def test_custom_tool_history_as_input(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    # A namespace without a description: the SDK's type requires one, the API does not.
    edit: NamespaceToolParam = {  # type: ignore[typeddict-item]
        "type": "namespace",
        "name": "edit",
        "tools": [APPLY_PATCH],
    }
    client.responses.create(
        model=MODEL,
        store=False,
        tools=[edit],
        input=[
            {"role": "user", "content": "add hello.txt"},
            {
                "type": "custom_tool_call",
                "call_id": "p3",
                "name": "apply_patch",
                "namespace": "edit",
                "input": PATCH,
            },
            {
                "type": "custom_tool_call_output",
                "call_id": "p3",
                "output": [{"type": "input_text", "text": "ok"}],
            },
        ],
    )
    assert [c["name"] for c in assistant_calls(upstream.last)] == ["edit__apply_patch"]
    assert upstream.last["messages"][-1]["content"] == "ok"


def test_custom_tool_output_needs_its_call(gateway: Gateway, upstream: ScriptedUpstream) -> None:
    body = {
        "model": MODEL,
        "input": [{"type": "custom_tool_call_output", "call_id": "nope", "output": "x"}],
    }
    answer = httpx.post(gateway.base_url + "/responses", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "input[0]"
    assert "custom tool call output" in answer.json()["error"]["message"]


@pytest.mark.parametrize(
    ("choice", "forced"),
    [
        ({"type": "custom", "name": "apply_patch"}, "apply_patch"),
        ({"type": "function", "name": "multiply"}, "mcp__docs__multiply"),
    ],
)
def test_tool_choice_names_custom_and_namespaced_tools(
    client: openai.OpenAI,
    upstream: ScriptedUpstream,
    choice: ToolChoiceCustomParam | ToolChoiceFunctionParam,
    forced: str,
) -> None:
    client.responses.create(model=MODEL, input="x", tools=[APPLY_PATCH, DOCS], tool_choice=choice)
    # Forced as every backend honours it: "required", with only that tool offered.
    assert upstream.last["tool_choice"] == "required"
    assert [tool["function"]["name"] for tool in upstream.last["tools"]] == [forced]


def test_allowed_tools_with_custom_and_namespace(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    choice: ToolChoiceAllowedParam = {
        "type": "allowed_tools",
        "mode": "required",
        "tools": [
            {"type": "custom", "name": "apply_patch"},
            {"type": "namespace", "name": "mcp__docs"},
        ],
    }
    note: CustomToolParam = {"type": "custom", "name": "note"}
    client.responses.create(
        model=MODEL,
        input="x",
        tools=[APPLY_PATCH, note, DOCS],
        tool_choice=choice,
    )
    assert upstream.last["tool_choice"] == "required"
    assert offered(upstream.last) == ["apply_patch", "mcp__docs__multiply"]


@pytest.mark.parametrize(
    "choice",
    [{"type": "custom", "name": "missing"}, {"type": "custom", "name": "multiply"}],
)
def test_tool_choice_for_an_unknown_custom_tool_is_a_400(
    gateway: Gateway, upstream: ScriptedUpstream, choice: dict[str, Any]
) -> None:
    body = {"model": MODEL, "input": "x", "tools": [DOCS, APPLY_PATCH], "tool_choice": choice}
    answer = httpx.post(gateway.base_url + "/responses", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "tool_choice"
    assert upstream.requests == []
