"""A ``tool_search`` the client runs (``execution: "client"``, as Codex sends it with model
metadata that supports search): offered as a function, its call a ``tool_search_call``, the
tools of the client's ``tool_search_output`` offered from then on; on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import cast

import openai
from openai.types.responses import (
    FunctionToolParam,
    ResponseFunctionToolCall,
    ResponseInputParam,
    ResponseOutputItemDoneEvent,
    ResponseToolSearchCall,
    ToolSearchOutputNamespaceToolParam,
    ToolSearchToolParam,
)
from openai.types.responses.tool_search_output_namespace_tool_param import ToolFunction

from tests.support.sdk_streams import (
    MODEL,
    check_stream_invariants,
    event_at,
    output_item,
    run_stream,
)
from tests.support.upstream import Reply, ScriptedUpstream, ToolCall, offered
from tests.test_api_client_tool_shapes import assistant_calls

SEARCH_PARAMETERS = {
    "type": "object",
    "properties": {"query": {"type": "string"}, "limit": {"type": "number"}},
    "required": ["query"],
    "additionalProperties": False,
}
TOOL_SEARCH: ToolSearchToolParam = {
    "type": "tool_search",
    "execution": "client",
    "description": "Searches over deferred tool metadata.",
    "parameters": SEARCH_PARAMETERS,
}
# The SDK's FunctionToolParam requires ``strict``; clients may leave it out, and these do.
EXEC = cast(
    FunctionToolParam,
    {"type": "function", "name": "exec_command", "parameters": {"type": "object"}},
)
ADD: ToolFunction = {
    "type": "function",
    "name": "add",
    "description": "Add two numbers.\nMore text.",
}
FOUND: ToolSearchOutputNamespaceToolParam = {
    "type": "namespace",
    "name": "mcp__calc",
    "description": "calc",
    "tools": [ADD],
}
SEARCH_CALL = ToolCall("tool_search", '{"query": "add", "limit": 8}', id="ts1")


def searched(call_id: str = "ts1") -> ResponseInputParam:
    """The call and the client's answer, as Codex sends them back."""
    return [
        {
            "type": "tool_search_call",
            "call_id": call_id,
            "arguments": {"query": "add"},
            "execution": "client",
            "status": "completed",
        },
        {
            "type": "tool_search_output",
            "call_id": call_id,
            "execution": "client",
            "status": "completed",
            "tools": [FOUND],
        },
    ]


def test_client_tool_search_is_offered_and_called(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(tool_calls=[SEARCH_CALL]))
    response = client.responses.create(model=MODEL, input="add 2 and 3", tools=[EXEC, TOOL_SEARCH])
    assert offered(upstream.last) == ["exec_command", "tool_search"]
    offered_search = upstream.last["tools"][1]["function"]
    assert offered_search["parameters"] == SEARCH_PARAMETERS
    assert offered_search["description"] == TOOL_SEARCH["description"]
    call = output_item(response, 0, ResponseToolSearchCall)
    assert (call.call_id, call.arguments, call.execution, call.status) == (
        "ts1",
        {"query": "add", "limit": 8},
        "client",
        "completed",
    )


def test_client_tool_search_streamed(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    upstream.push(Reply(tool_calls=[SEARCH_CALL]))
    events, final = run_stream(client, input="add 2 and 3", tools=[EXEC, TOOL_SEARCH])
    check_stream_invariants(events, final)
    assert [e.type for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.output_item.done",
        "response.completed",
    ]
    searched_call = event_at(events, 3, ResponseOutputItemDoneEvent).item
    assert isinstance(searched_call, ResponseToolSearchCall)
    assert searched_call.arguments == {"query": "add", "limit": 8}
    assert final.output[0].type == "tool_search_call"


def test_found_tools_are_offered_and_their_calls_mapped(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(tool_calls=[ToolCall("mcp__calc__add", '{"a": 2}', id="c1")]))
    response = client.responses.create(
        model=MODEL,
        store=False,
        tools=[EXEC, TOOL_SEARCH],
        input=[{"role": "user", "content": "add 2 and 3"}, *searched()],
    )
    assert offered(upstream.last) == ["exec_command", "tool_search", "mcp__calc__add"]
    assert assistant_calls(upstream.last) == [
        {"name": "tool_search", "arguments": '{"query":"add"}'}
    ]
    assert upstream.last["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "ts1",
        "content": "These tools are now available to call:\n- mcp__calc__add: Add two numbers.",
    }
    call = output_item(response, 0, ResponseFunctionToolCall)
    assert (call.type, call.name, call.namespace) == ("function_call", "add", "mcp__calc")


def test_found_tools_stay_offered_along_a_chain(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    first = client.responses.create(
        model=MODEL,
        tools=[TOOL_SEARCH],
        input=[{"role": "user", "content": "add 2 and 3"}, *searched()],
    )
    assert offered(upstream.last) == ["tool_search", "mcp__calc__add"]
    client.responses.create(
        model=MODEL,
        input="again",
        previous_response_id=first.id,
        tools=[TOOL_SEARCH],
    )
    assert offered(upstream.last) == ["tool_search", "mcp__calc__add"]
    assert upstream.last["messages"][2]["content"].startswith("These tools are now available")


def test_a_plain_function_named_tool_search_keeps_its_name(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    plain = cast(  # no "strict" either
        FunctionToolParam,
        {"type": "function", "name": "tool_search", "parameters": {"type": "object"}},
    )
    upstream.push(Reply(tool_calls=[ToolCall("tool_search_2", '{"query": "x"}', id="ts9")]))
    response = client.responses.create(model=MODEL, input="x", tools=[TOOL_SEARCH, plain])
    assert offered(upstream.last) == ["tool_search_2", "tool_search"]
    assert response.output[0].type == "tool_search_call"
    upstream.push(Reply(content="ok"))
    client.responses.create(
        model=MODEL,
        store=False,
        tools=[TOOL_SEARCH, plain],
        input=[
            *searched("ts9"),
            {"type": "function_call", "call_id": "f1", "name": "tool_search", "arguments": "{}"},
        ],
    )
    assert [c["name"] for c in assistant_calls(upstream.last)] == ["tool_search_2", "tool_search"]
