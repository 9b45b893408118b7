"""End-to-end MCP through the API with the official ``openai`` SDK: the gateway lists and calls
real MCP servers (Streamable HTTP and legacy HTTP+SSE, on loopback) inside one response, streamed
and not, on SQLite and PostgreSQL; listings are reused, filtered and mapped back by name.
Approvals and limits: test_api_mcp_approvals.py; failures, egress and secrets:
test_api_mcp_failures.py.

Open Responses validation: ``openresponses_types.ResponseResource`` only knows message,
function_call and reasoning output items and function tools, so it is applied to the MCP-free
responses here (and to MCP responses with their MCP items and tools left out); MCP items are
checked against the SDK's own types instead.
"""

from __future__ import annotations

import json
from typing import Any, cast

import openai
import pytest
from openai.types.responses import (
    FunctionToolParam,
    Response,
    ResponseCompletedEvent,
    ResponseInputItemParam,
    ResponseMcpCallArgumentsDeltaEvent,
    ResponseOutputItemAddedEvent,
    ToolParam,
)
from openai.types.responses.response_output_item import McpCall, McpListTools
from openresponses_types import types as ort

from tests.conftest import MakeGateway
from tests.support.checks import TEXT_ITEM_EVENTS
from tests.support.mcp_servers import ADD, McpTestServers, mcp_tool
from tests.support.sdk_streams import (
    MODEL,
    check_stream_invariants,
    event_at,
    events_of,
    output_item,
    raw_stream,
    run_stream,
    squash,
    types_of,
)
from tests.support.upstream import Reply, ScriptedUpstream, ToolCall, offered

ORDER_C_LIST = [
    "response.output_item.added",
    "response.mcp_list_tools.in_progress",
    "response.mcp_list_tools.completed",
    "response.output_item.done",
]
ORDER_C_CALL = [
    "response.output_item.added",
    "response.mcp_call.in_progress",
    "response.mcp_call_arguments.delta",
    "response.mcp_call_arguments.done",
    "response.mcp_call.completed",
    "response.output_item.done",
]
MESSAGE = TEXT_ITEM_EVENTS


def open_responses_subset(response: Response) -> dict[str, Any]:
    """The response without its MCP items and tools, for ``openresponses_types``."""
    data = response.model_dump(mode="json", warnings=False)
    data["output"] = [
        item for item in data["output"] if item["type"] in ("message", "function_call", "reasoning")
    ]
    data["tools"] = [tool for tool in data["tools"] if tool["type"] == "function"]
    return data


# --------------------------------------------------------------------------- listing and calls


def test_list_and_call_streamable(
    client: openai.OpenAI, upstream: ScriptedUpstream, mcp: McpTestServers
) -> None:
    upstream.push(Reply(tool_calls=[ADD]), Reply(content="It is 5."))
    response = client.responses.create(
        model=MODEL, input="add 2 and 3", tools=[mcp_tool(mcp.streamable_url)]
    )
    assert response.status == "completed"
    assert types_of(response) == ["mcp_list_tools", "mcp_call", "message"]
    listing, call, _ = response.output
    assert isinstance(listing, McpListTools) and isinstance(call, McpCall)
    assert listing.server_label == "calc" and listing.error is None
    names = {tool.name for tool in listing.tools}
    assert {"add", "fail", "echo_auth", "slow", "lookup"} <= names
    assert call.server_label == "calc" and call.name == "add"
    assert json.loads(call.arguments) == {"a": 2, "b": 3}
    assert call.output == "5" and call.error is None and call.status == "completed"
    assert call.approval_request_id is None
    assert response.output_text == "It is 5."
    # The model saw the MCP tools, then the call and its result.
    assert "add" in offered(upstream.requests[0])
    messages = upstream.requests[-1]["messages"]
    assert messages[-2]["tool_calls"][0]["function"]["name"] == "add"
    assert messages[-1] == {
        "role": "tool",
        "tool_call_id": messages[-2]["tool_calls"][0]["id"],
        "content": "5",
    }
    assert mcp.streamable.rpc_count("tools/list") == 1
    assert mcp.streamable.rpc_count("tools/call") == 1
    assert mcp.streamable.rpc_count("initialize") == 1  # one session for list and call...
    assert mcp.streamable.http_methods()[-1] == "DELETE"  # ...closed before the response returned
    # The echoed tool has no secrets and a redacted path.
    echoed = response.tools[0].model_dump()
    assert echoed["server_url"].endswith("/<redacted>") and "/mcp" not in echoed["server_url"]
    assert echoed["headers"] is None and not echoed.get("authorization")


def test_sse_tool_without_label(
    client: openai.OpenAI, upstream: ScriptedUpstream, mcp: McpTestServers
) -> None:
    upstream.push(Reply(tool_calls=[ADD]), Reply(content="It is 5."))
    response = client.responses.create(
        model=MODEL,
        input="add 2 and 3",
        # The gateway's own "sse" tool type, which the SDK's ToolParam does not know.
        tools=[{"type": "sse", "server_url": mcp.sse_url}],  # type: ignore[list-item]
    )
    assert response.status == "completed"
    assert types_of(response) == ["mcp_list_tools", "mcp_call", "message"]
    assert output_item(response, 0, McpListTools).server_label == "127.0.0.1"
    call = output_item(response, 1, McpCall)
    assert call.server_label == "127.0.0.1" and call.output == "5"
    assert mcp.sse.rpc_count("tools/call") == 1
    assert "POST" not in [r.method for r in mcp.sse.requests if r.path == "/sse"]  # no probe
    echoed = response.tools[0].model_dump()
    assert echoed["type"] == "mcp" and echoed["server_label"] == "127.0.0.1"
    assert echoed["server_url"] == mcp.sse_url.rsplit("/", 1)[0] + "/<redacted>"
    assert echoed["headers"] is None and not echoed.get("authorization")


def test_mcp_tool_falls_back_to_sse(
    client: openai.OpenAI, upstream: ScriptedUpstream, mcp: McpTestServers
) -> None:
    """An ``mcp`` tool whose server only speaks HTTP+SSE: the POST gets 405, then SSE works."""
    upstream.push(Reply(tool_calls=[ADD]), Reply(content="It is 5."))
    response = client.responses.create(
        model=MODEL, input="add", tools=[mcp_tool(mcp.sse_url, label=None)]
    )
    assert response.status == "completed"
    assert output_item(response, 1, McpCall).output == "5"
    assert "POST" in mcp.sse.http_methods() and "GET" in mcp.sse.http_methods()


def test_stream_order_c_and_replay(
    client: openai.OpenAI, upstream: ScriptedUpstream, mcp: McpTestServers
) -> None:
    upstream.push(Reply(tool_calls=[ADD]), Reply(content="It is five."))
    events, final = run_stream(client, input="add 2 and 3", tools=[mcp_tool(mcp.streamable_url)])
    expected = [
        "response.created",
        "response.in_progress",
        *ORDER_C_LIST,
        *ORDER_C_CALL,
        *MESSAGE,
        "response.completed",
    ]
    assert squash([event.type for event in events]) == expected
    check_stream_invariants(events, final)
    added = [e.item for e in events_of(events, ResponseOutputItemAddedEvent)]
    listing, call = added[0], added[1]
    assert isinstance(listing, McpListTools) and isinstance(call, McpCall)
    assert listing.tools == []  # order C: the listing is empty until done
    assert call.arguments == "" and call.output is None and call.error is None
    deltas = "".join(e.delta for e in events_of(events, ResponseMcpCallArgumentsDeltaEvent))
    assert json.loads(deltas) == {"a": 2, "b": 3}
    assert final.status == "completed" and final.output_text == "It is five."
    assert [item.type for item in final.output] == ["mcp_list_tools", "mcp_call", "message"]
    assert output_item(final, 1, McpCall).output == "5"
    # Stored MCP items replay identically.
    stored = client.responses.retrieve(final.id)
    # (exclude_none: the stream helper adds ``parsed: None`` to output_text parts)
    assert [i.model_dump(exclude_none=True) for i in stored.output] == [
        i.model_dump(exclude_none=True, warnings=False) for i in final.output
    ]
    assert stored.output[1].model_dump() == final.output[1].model_dump()
    assert stored.model_dump()["tools"] == final.model_dump(warnings=False)["tools"]


# --------------------------------------------------------------------------- reuse of listings


def test_listing_reused_via_previous_response_id(
    client: openai.OpenAI, upstream: ScriptedUpstream, mcp: McpTestServers
) -> None:
    tools = [mcp_tool(mcp.streamable_url)]
    upstream.push(Reply(tool_calls=[ADD]), Reply(content="5."))
    first = client.responses.create(model=MODEL, input="add", tools=tools)
    assert types_of(first) == ["mcp_list_tools", "mcp_call", "message"]
    upstream.push(Reply(tool_calls=[ToolCall("add", '{"a": 1, "b": 1}')]), Reply(content="2."))
    events, second = run_stream(
        client, input="and 1 + 1?", tools=tools, previous_response_id=first.id
    )
    check_stream_invariants(events, second)
    assert "response.mcp_list_tools.in_progress" not in [e.type for e in events]
    assert types_of(second) == ["mcp_call", "message"]
    assert output_item(second, 0, McpCall).output == "2"
    assert mcp.streamable.rpc_count("tools/list") == 1  # no second listing, no hidden one
    assert mcp.streamable.rpc_count("tools/call") == 2
    assert "add" in offered(upstream.requests[-2])


def test_listing_reused_via_input(
    client: openai.OpenAI, upstream: ScriptedUpstream, mcp: McpTestServers
) -> None:
    tools = [mcp_tool(mcp.streamable_url)]
    upstream.push(Reply(content="ok"))
    first = client.responses.create(model=MODEL, input="hi", tools=tools)
    assert types_of(first) == ["mcp_list_tools", "message"]
    listing = output_item(first, 0, McpListTools).model_dump(exclude_none=True)
    upstream.push(Reply(tool_calls=[ADD]), Reply(content="5."))
    second = client.responses.create(
        model=MODEL,
        input=[cast(ResponseInputItemParam, listing), {"role": "user", "content": "add 2 and 3"}],
        tools=tools,
    )
    assert types_of(second) == ["mcp_call", "message"]
    assert output_item(second, 0, McpCall).output == "5"
    assert mcp.streamable.rpc_count("tools/list") == 1
    assert "add" in offered(upstream.requests[-2])


# --------------------------------------------------------------------------- filters and names


@pytest.mark.parametrize(
    ("allowed", "expected"),
    [
        (["add", "lookup"], {"add", "lookup"}),
        ({"tool_names": ["add"]}, {"add"}),
        ({"read_only": True}, {"lookup"}),
    ],
    ids=["list", "tool_names", "read_only"],
)
def test_allowed_tools(
    client: openai.OpenAI,
    upstream: ScriptedUpstream,
    mcp: McpTestServers,
    allowed: Any,
    expected: set[str],
) -> None:
    upstream.push(Reply(content="ok"))
    response = client.responses.create(
        model=MODEL, input="hi", tools=[mcp_tool(mcp.streamable_url, allowed_tools=allowed)]
    )
    assert {tool.name for tool in output_item(response, 0, McpListTools).tools} == expected
    assert set(offered(upstream.requests[-1])) == expected


def test_colliding_tool_names_are_mapped_back(
    client: openai.OpenAI, upstream: ScriptedUpstream, mcp: McpTestServers
) -> None:
    def call_both(request: dict[str, Any]) -> Reply:
        by_description = {
            tool["function"].get("description", "").split("\n")[0]: tool["function"]["name"]
            for tool in request["tools"]
        }
        return Reply(
            tool_calls=[
                ToolCall(by_description["Add two integers."], '{"a": 1, "b": 2}'),
                ToolCall(
                    by_description["Concatenate two strings (same name, different tool)."],
                    '{"x": "ab", "y": "cd"}',
                ),
            ]
        )

    upstream.push(call_both, Reply(content="done"))
    response = client.responses.create(
        model=MODEL,
        input="both",
        tools=[
            mcp_tool(mcp.streamable_url, label="calc", allowed_tools=["add"]),
            mcp_tool(mcp.other_streamable_url, label="other"),
        ],
    )
    names = offered(upstream.requests[0])
    assert len(names) == len(set(names)) == 2
    calls = [item for item in response.output if item.type == "mcp_call"]
    assert [(c.server_label, c.name, c.output) for c in calls] == [
        ("calc", "add", "3"),
        ("other", "add", "abcd"),
    ]
    assert mcp.streamable.rpc_count("tools/call") == 1
    assert mcp.other.rpc_count("tools/call") == 1
    # The model sees its own (unique) names again in the history.
    history_names = [
        call["function"]["name"]
        for message in upstream.requests[-1]["messages"]
        for call in message.get("tool_calls") or []
    ]
    assert sorted(history_names) == sorted(names)


# --------------------------------------------------------------------------- mixed with functions


def test_mcp_and_function_tools_mixed(
    client: openai.OpenAI, upstream: ScriptedUpstream, mcp: McpTestServers
) -> None:
    weather: FunctionToolParam = {
        "type": "function",
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        "strict": None,
    }
    tools: list[ToolParam] = [weather, mcp_tool(mcp.streamable_url, allowed_tools=["add"])]
    upstream.push(Reply(tool_calls=[ADD, ToolCall("get_weather", '{"city": "Oslo"}')]))
    events, first = run_stream(client, input="add and weather", tools=tools)
    check_stream_invariants(events, first)
    assert first.status == "completed"
    assert sorted(types_of(first)) == ["function_call", "mcp_call", "mcp_list_tools"]
    call = next(item for item in first.output if item.type == "function_call")
    assert call.name == "get_weather" and call.status == "completed"
    assert json.loads(call.arguments) == {"city": "Oslo"}
    mcp_call = next(item for item in first.output if item.type == "mcp_call")
    assert mcp_call.output == "5"
    assert set(offered(upstream.requests[0])) == {"get_weather", "add"}
    assert len(upstream.requests) == 1  # the client runs its function before the model goes on
    ort.ResponseResource.model_validate(open_responses_subset(first))

    upstream.push(Reply(content="5, and sunny in Oslo."))
    second = client.responses.create(
        model=MODEL,
        previous_response_id=first.id,
        tools=tools,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
    )
    assert second.status == "completed" and types_of(second) == ["message"]
    assert second.output_text == "5, and sunny in Oslo."
    tool_messages = [m for m in upstream.requests[-1]["messages"] if m["role"] == "tool"]
    assert sorted(m["content"] for m in tool_messages) == ["5", "sunny"]
    assert mcp.streamable.rpc_count("tools/list") == 1
    ort.ResponseResource.model_validate(second.model_dump(mode="json") | {"tools": [weather]})


# --------------------------------------------------------------------------- odds and ends


def test_output_is_capped(
    make_gateway: MakeGateway, upstream: ScriptedUpstream, mcp: McpTestServers
) -> None:
    client = make_gateway(mcp_max_output_bytes=2048).client()
    upstream.push(Reply(tool_calls=[ToolCall("big", '{"n": 20000}')]), Reply(content="long"))
    response = client.responses.create(
        model=MODEL, input="big", tools=[mcp_tool(mcp.streamable_url)]
    )
    output = output_item(response, 1, McpCall).output
    assert output is not None and "output truncated" in output
    assert len(output.encode()) < 2048 + 200
    assert upstream.requests[-1]["messages"][-1]["content"] == output


def test_tool_choice_mcp(
    client: openai.OpenAI, upstream: ScriptedUpstream, mcp: McpTestServers
) -> None:
    upstream.push(Reply(tool_calls=[ADD]), Reply(content="5"))
    response = client.responses.create(
        model=MODEL,
        input="add",
        tools=[mcp_tool(mcp.streamable_url)],
        tool_choice={"type": "mcp", "server_label": "calc", "name": "add"},
    )
    assert types_of(response) == ["mcp_list_tools", "mcp_call", "message"]
    first = upstream.requests[0]
    assert first["tool_choice"] == "required"
    assert [tool["function"]["name"] for tool in first["tools"]] == ["add"]
    assert len(upstream.requests[1]["tools"]) > 1  # the whole list again
    assert upstream.requests[1].get("tool_choice") in (None, "auto")  # forced once only
    with pytest.raises(openai.BadRequestError):
        client.responses.create(
            model=MODEL,
            input="add",
            tools=[mcp_tool(mcp.streamable_url)],
            tool_choice={"type": "mcp", "server_label": "nope"},
        )


def test_tool_choice_mcp_server_narrows_the_first_round_only(
    client: openai.OpenAI, upstream: ScriptedUpstream, mcp: McpTestServers
) -> None:
    # Sent without "strict", which the gateway accepts and the SDK's TypedDict marks required.
    function: FunctionToolParam = {  # type: ignore[typeddict-item]
        "type": "function",
        "name": "local_fn",
        "parameters": {"type": "object"},
    }
    upstream.push(Reply(tool_calls=[ADD]), Reply(content="5"))
    client.responses.create(
        model=MODEL,
        input="add",
        tools=[mcp_tool(mcp.streamable_url), function],
        tool_choice={"type": "mcp", "server_label": "calc"},
    )
    first, second = upstream.requests[0], upstream.requests[1]
    assert first["tool_choice"] == "required"
    assert "local_fn" not in [t["function"]["name"] for t in first["tools"]]
    assert second["tool_choice"] == "auto"
    assert "local_fn" in [t["function"]["name"] for t in second["tools"]]


def test_new_server_on_a_later_turn_is_listed(
    client: openai.OpenAI, upstream: ScriptedUpstream, mcp: McpTestServers
) -> None:
    upstream.push(Reply(content="one"), Reply(content="two"))
    first = client.responses.create(model=MODEL, input="hi", tools=[mcp_tool(mcp.streamable_url)])
    tools = [mcp_tool(mcp.streamable_url), mcp_tool(mcp.other_streamable_url, label="other")]
    events = raw_stream(client, input="again", tools=tools, previous_response_id=first.id)
    check_stream_invariants(events)
    final = event_at(events, -1, ResponseCompletedEvent).response
    assert [(i.type, getattr(i, "server_label", None)) for i in final.output] == [
        ("mcp_list_tools", "other"),
        ("message", None),
    ]
    assert mcp.streamable.rpc_count("tools/list") == 1
    assert mcp.other.rpc_count("tools/list") == 1
    assert len(offered(upstream.requests[-1])) == len(output_item(first, 0, McpListTools).tools) + 1
