"""End-to-end MCP through the API with the official ``openai`` SDK: the gateway lists and calls
real MCP servers (Streamable HTTP and legacy HTTP+SSE, on loopback) inside one response, streamed
and not, on SQLite and PostgreSQL.

Open Responses validation: ``openresponses_types.ResponseResource`` only knows message,
function_call and reasoning output items and function tools, so it is applied to the MCP-free
responses here (and to MCP responses with their MCP items and tools left out); MCP items are
checked against the SDK's own types instead.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import openai
import orjson
import pytest
from openresponses_types import types as ort

from responses_gateway.app import create_app
from responses_gateway.chat.messages import DENIED_TOOL_RESULT
from tests.conftest import Gateway, gateway_settings
from tests.support.checks import TEXT_ITEM_EVENTS
from tests.support.database import read_database
from tests.support.mcp_servers import McpTestServers, running_mcp_servers
from tests.support.serving import serve_in_thread
from tests.support.upstream import Reply, ScriptedUpstream, ToolCall

MODEL = "scripted"
ADD = ToolCall("add", '{"a": 2, "b": 3}')


# --------------------------------------------------------------------------- fixtures / helpers


@pytest.fixture(scope="module")
def mcp() -> Iterator[McpTestServers]:
    with running_mcp_servers() as servers:
        yield servers


@pytest.fixture(autouse=True)
def _fresh_recorders(mcp: McpTestServers) -> None:
    mcp.reset()


@pytest.fixture
def make_gateway(gateway: Gateway, upstream: ScriptedUpstream) -> Iterator[Any]:
    """Start extra gateways on the same database and upstream with other settings."""
    with contextlib.ExitStack() as stack:

        def make(**overrides: Any) -> openai.OpenAI:
            settings = gateway_settings(
                gateway.settings.database_url, upstream.base_url, **overrides
            )
            url = stack.enter_context(serve_in_thread(create_app(settings)))
            return Gateway(url, settings).client()

        yield make


def mcp_tool(url: str, label: str | None = "calc", **fields: Any) -> dict[str, Any]:
    tool: dict[str, Any] = {"type": "mcp", "server_url": url, **fields}
    if label is not None:
        tool["server_label"] = label
    return tool


def offered(request: dict[str, Any]) -> list[str]:
    """The tool names the gateway offered the upstream in one chat request."""
    return [tool["function"]["name"] for tool in request.get("tools") or []]


def types_of(response: Any) -> list[str]:
    return [item.type for item in response.output]


def squash(kinds: list[str]) -> list[str]:
    """Collapse runs of the same delta event (their count depends on chunking)."""
    out: list[str] = []
    for kind in kinds:
        if not (kind.endswith(".delta") and out and out[-1] == kind):
            out.append(kind)
    return out


def run_stream(client: openai.OpenAI, **params: Any) -> tuple[list[Any], Any]:
    """Stream through the SDK's ``responses.stream()`` helper: (events, final response)."""
    with client.responses.stream(model=MODEL, **params) as stream:
        events = list(stream)
        final = stream.get_final_response()
    return events, final


def raw_stream(client: openai.OpenAI, **params: Any) -> list[Any]:
    return list(client.responses.create(model=MODEL, stream=True, **params))


def check_stream_invariants(events: list[Any], final: Any | None = None) -> None:
    """One response.created first, one terminal event last, gap-free sequence numbers, and items
    whose id and output_index agree between added, done and the terminal response."""
    kinds = [event.type for event in events]
    assert kinds[0] == "response.created"
    assert kinds.count("response.created") == 1
    terminal = {"response.completed", "response.incomplete", "response.failed"}
    assert kinds[-1] in terminal
    assert sum(kind in terminal for kind in kinds) == 1
    assert [event.sequence_number for event in events] == list(range(len(events)))
    added = {e.output_index: e.item.id for e in events if e.type == "response.output_item.added"}
    done = {e.output_index: e.item.id for e in events if e.type == "response.output_item.done"}
    assert added == done
    assert sorted(added) == list(range(len(added)))
    for event in events:
        if hasattr(event, "item_id") and hasattr(event, "output_index"):
            assert added[event.output_index] == event.item_id, event.type
    last = events[-1].response
    assert [item.id for item in last.output] == [added[i] for i in range(len(added))]
    assert {
        e.response.id for e in events if e.type.startswith("response.") and hasattr(e, "response")
    } == {last.id}
    if final is not None:
        assert [item.id for item in final.output] == [added[i] for i in range(len(added))]


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


def open_responses_subset(response: Any) -> dict[str, Any]:
    """The response without its MCP items and tools, for ``openresponses_types``."""
    data = response.model_dump(mode="json", warnings=False)
    data["output"] = [
        item for item in data["output"] if item["type"] in ("message", "function_call", "reasoning")
    ]
    data["tools"] = [tool for tool in data["tools"] if tool["type"] == "function"]
    return data


def stored_rows(database_url: str, response_id: str) -> tuple[list[str], list[dict[str, Any]]]:
    """The raw ``responses.data`` and ``response_items.data`` of one stored response."""
    rows = read_database(database_url, "SELECT data FROM responses WHERE id = :id", id=response_id)
    items = read_database(
        database_url, "SELECT data FROM response_items WHERE response_id = :id", id=response_id
    )
    return [row[0] for row in rows], [orjson.loads(row[0]) for row in items]


def without_mcp_outputs(data: Any) -> Any:
    """``data`` with every ``mcp_call`` item's ``output`` (the MCP server's own words) nulled."""
    if isinstance(data, list):
        return [without_mcp_outputs(value) for value in data]
    if isinstance(data, dict):
        cleaned = {key: without_mcp_outputs(value) for key, value in data.items()}
        if cleaned.get("type") == "mcp_call":
            cleaned["output"] = None
        return cleaned
    return data


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
        tools=[{"type": "sse", "server_url": mcp.sse_url}],  # type: ignore[list-item]
    )
    assert response.status == "completed"
    assert types_of(response) == ["mcp_list_tools", "mcp_call", "message"]
    assert response.output[0].server_label == "127.0.0.1"
    assert response.output[1].server_label == "127.0.0.1" and response.output[1].output == "5"
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
    assert response.output[1].output == "5"
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
    added = [e.item for e in events if e.type == "response.output_item.added"]
    assert added[0].tools == []  # order C: the listing is empty until done
    assert added[1].arguments == "" and added[1].output is None and added[1].error is None
    deltas = "".join(e.delta for e in events if e.type == "response.mcp_call_arguments.delta")
    assert json.loads(deltas) == {"a": 2, "b": 3}
    assert final.status == "completed" and final.output_text == "It is five."
    assert [item.type for item in final.output] == ["mcp_list_tools", "mcp_call", "message"]
    assert final.output[1].output == "5"
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
    assert second.output[0].output == "2"
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
    listing = first.output[0].model_dump(exclude_none=True)
    upstream.push(Reply(tool_calls=[ADD]), Reply(content="5."))
    second = client.responses.create(
        model=MODEL,
        input=[listing, {"role": "user", "content": "add 2 and 3"}],  # type: ignore[list-item]
        tools=tools,
    )
    assert types_of(second) == ["mcp_call", "message"]
    assert second.output[0].output == "5"
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
    assert {tool.name for tool in response.output[0].tools} == expected
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


# --------------------------------------------------------------------------- approvals


def test_approval_then_approve(
    client: openai.OpenAI, upstream: ScriptedUpstream, mcp: McpTestServers
) -> None:
    tools = [mcp_tool(mcp.streamable_url, require_approval="always")]
    upstream.push(Reply(tool_calls=[ADD]))
    events, first = run_stream(client, input="add", tools=tools)
    check_stream_invariants(events, first)
    assert first.status == "completed"
    assert types_of(first) == ["mcp_list_tools", "mcp_approval_request"]
    assert squash([e.type for e in events])[-3:] == [
        "response.output_item.added",
        "response.output_item.done",
        "response.completed",
    ]
    request = first.output[1]
    assert (
        request.id.startswith("mcpr") and request.name == "add" and request.server_label == "calc"
    )
    assert json.loads(request.arguments) == {"a": 2, "b": 3}
    assert mcp.streamable.rpc_count("tools/call") == 0

    upstream.push(Reply(content="It is 5."))
    second = client.responses.create(
        model=MODEL,
        previous_response_id=first.id,
        tools=tools,
        input=[
            {"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}
        ],
    )
    assert second.status == "completed"
    assert types_of(second) == ["mcp_call", "message"]
    call = second.output[0]
    assert call.approval_request_id == request.id
    assert call.output == "5" and call.name == "add"
    assert second.output_text == "It is 5."
    assert mcp.streamable.rpc_count("tools/call") == 1
    assert mcp.streamable.rpc_count("tools/list") == 1
    assert upstream.requests[-1]["messages"][-1]["content"] == "5"
    # Approving it again (from the later response) does not run the tool a second time.
    with pytest.raises(openai.BadRequestError):
        client.responses.create(
            model=MODEL,
            previous_response_id=second.id,
            tools=tools,
            input=[
                {
                    "type": "mcp_approval_response",
                    "approval_request_id": request.id,
                    "approve": True,
                }
            ],
        )
    assert mcp.streamable.rpc_count("tools/call") == 1


def test_approval_denied(
    client: openai.OpenAI, upstream: ScriptedUpstream, mcp: McpTestServers
) -> None:
    tools = [mcp_tool(mcp.streamable_url, require_approval="always")]
    upstream.push(Reply(tool_calls=[ADD]))
    first = client.responses.create(model=MODEL, input="add", tools=tools)
    request = first.output[-1]
    assert request.type == "mcp_approval_request"
    upstream.push(Reply(content="Okay, I won't."))
    events, second = run_stream(
        client,
        previous_response_id=first.id,
        tools=tools,
        input=[
            {
                "type": "mcp_approval_response",
                "approval_request_id": request.id,
                "approve": False,
                "reason": "not today",
            }
        ],
    )
    check_stream_invariants(events, second)
    assert second.status == "completed"
    assert types_of(second) == ["message"]
    assert mcp.streamable.rpc_count("tools/call") == 0
    tool_messages = [m for m in upstream.requests[-1]["messages"] if m["role"] == "tool"]
    assert len(tool_messages) == 1
    assert tool_messages[0]["content"].startswith(DENIED_TOOL_RESULT)
    assert "not today" in tool_messages[0]["content"]
    # A later turn still shows the model one call, one denial, then its answer.
    upstream.push(Reply(content="fine"))
    client.responses.create(
        model=MODEL, previous_response_id=second.id, tools=tools, input="what now?"
    )
    roles = [m["role"] for m in upstream.requests[-1]["messages"]]
    assert roles == ["user", "assistant", "tool", "assistant", "user"]


def test_approval_filter_object(
    client: openai.OpenAI, upstream: ScriptedUpstream, mcp: McpTestServers
) -> None:
    upstream.push(
        Reply(tool_calls=[ADD, ToolCall("lookup", '{"key": "k"}')]), Reply(content="unused")
    )
    response = client.responses.create(
        model=MODEL,
        input="both",
        tools=[
            mcp_tool(
                mcp.streamable_url,
                require_approval={"never": {"tool_names": ["add"]}},
            )
        ],
    )
    assert response.status == "completed"
    assert types_of(response) == ["mcp_list_tools", "mcp_call", "mcp_approval_request"]
    assert response.output[1].name == "add" and response.output[1].output == "5"
    assert response.output[2].name == "lookup"
    assert len(upstream.requests) == 1
    assert mcp.streamable.rpc_count("tools/call") == 1


def test_default_approval_from_environment(
    make_gateway: Any,
    upstream: ScriptedUpstream,
    mcp: McpTestServers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_MCP_DEFAULT_APPROVAL", "always")
    client = make_gateway()
    upstream.push(Reply(tool_calls=[ADD]))
    response = client.responses.create(
        model=MODEL, input="add", tools=[mcp_tool(mcp.streamable_url)]
    )
    assert types_of(response) == ["mcp_list_tools", "mcp_approval_request"]
    assert mcp.streamable.rpc_count("tools/call") == 0
    # An explicit "never" still wins over the default.
    upstream.push(Reply(tool_calls=[ADD]), Reply(content="5"))
    response = client.responses.create(
        model=MODEL, input="add", tools=[mcp_tool(mcp.streamable_url, require_approval="never")]
    )
    assert types_of(response) == ["mcp_list_tools", "mcp_call", "message"]


# --------------------------------------------------------------------------- limits


def test_max_tool_calls(
    client: openai.OpenAI, upstream: ScriptedUpstream, mcp: McpTestServers
) -> None:
    upstream.default = Reply(tool_calls=[ADD])  # the model never stops calling
    response = client.responses.create(
        model=MODEL, input="loop", tools=[mcp_tool(mcp.streamable_url)], max_tool_calls=2
    )
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_tool_calls"
    assert types_of(response) == ["mcp_list_tools", "mcp_call", "mcp_call"]
    assert mcp.streamable.rpc_count("tools/call") == 2
    assert len(upstream.requests) == 3  # the third round's call is not executed

    upstream.requests.clear()
    events = raw_stream(
        client, input="loop", tools=[mcp_tool(mcp.streamable_url)], max_tool_calls=1
    )
    check_stream_invariants(events)
    assert events[-1].type == "response.incomplete"
    assert events[-1].response.incomplete_details.reason == "max_tool_calls"
    assert [i.type for i in events[-1].response.output] == ["mcp_list_tools", "mcp_call"]


def test_max_tool_rounds(
    make_gateway: Any, upstream: ScriptedUpstream, mcp: McpTestServers
) -> None:
    client = make_gateway(max_tool_rounds=2)
    upstream.default = Reply(tool_calls=[ADD])
    response = client.responses.create(
        model=MODEL, input="loop", tools=[mcp_tool(mcp.streamable_url)]
    )
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_tool_calls"
    assert len(upstream.requests) == 2
    assert types_of(response).count("mcp_call") == 2


def test_parallel_calls_run_concurrently_on_one_session(
    client: openai.OpenAI, upstream: ScriptedUpstream, mcp: McpTestServers
) -> None:
    slow = ToolCall("slow", '{"seconds": 0.5}')
    upstream.push(Reply(tool_calls=[slow, slow]), Reply(content="both done"))
    stamps: dict[str, list[float]] = {"start": [], "end": []}
    events: list[Any] = []
    with client.responses.stream(
        model=MODEL, input="two", tools=[mcp_tool(mcp.streamable_url)]
    ) as stream:
        for event in stream:
            events.append(event)
            if event.type == "response.mcp_call.in_progress":
                stamps["start"].append(time.monotonic())
            elif event.type in ("response.mcp_call.completed", "response.mcp_call.failed"):
                stamps["end"].append(time.monotonic())
        final = stream.get_final_response()
    check_stream_invariants(events, final)
    calls = [item for item in final.output if item.type == "mcp_call"]
    assert [c.output for c in calls] == ["done", "done"]
    assert max(stamps["end"]) - min(stamps["start"]) < 0.9
    assert mcp.streamable.rpc_count("initialize") == 1
    assert mcp.streamable.rpc_count("tools/call") == 2


# --------------------------------------------------------------------------- failures


def test_failing_tool(
    client: openai.OpenAI, upstream: ScriptedUpstream, mcp: McpTestServers
) -> None:
    upstream.push(
        Reply(tool_calls=[ToolCall("fail", '{"msg": "kaput"}')]), Reply(content="It failed.")
    )
    events, final = run_stream(client, input="fail", tools=[mcp_tool(mcp.streamable_url)])
    check_stream_invariants(events, final)
    kinds = [e.type for e in events]
    assert "response.mcp_call.failed" in kinds and "response.mcp_call.completed" not in kinds
    assert final.status == "completed" and final.output_text == "It failed."
    call = final.output[1]
    assert call.status == "failed" and call.output is None
    error = call.error.model_dump() if hasattr(call.error, "model_dump") else call.error
    assert error["type"] == "mcp_tool_execution_error"
    assert "kaput" in json.dumps(error["content"])
    tool_messages = [m for m in upstream.requests[-1]["messages"] if m["role"] == "tool"]
    assert len(tool_messages) == 1
    assert tool_messages[0]["content"] == "Error: Error executing tool fail: kaput"


def test_call_timeout_is_a_protocol_error(
    make_gateway: Any, upstream: ScriptedUpstream, mcp: McpTestServers
) -> None:
    client = make_gateway(mcp_call_timeout=0.3)
    upstream.push(
        Reply(tool_calls=[ToolCall("slow", '{"seconds": 1.2}')]), Reply(content="Too slow.")
    )
    response = client.responses.create(
        model=MODEL, input="slow", tools=[mcp_tool(mcp.streamable_url)]
    )
    assert response.status == "completed" and response.output_text == "Too slow."
    call = response.output[1]
    error = call.error.model_dump() if hasattr(call.error, "model_dump") else call.error
    assert error["type"] == "mcp_protocol_error"
    assert error["code"] == -32001
    assert call.status == "failed"
    assert any(
        m["role"] == "tool" and m["content"].startswith("Error")
        for m in upstream.requests[-1]["messages"]
    )


@pytest.mark.parametrize("server", ["unreachable", "unauthorized", "redirect"])
def test_listing_failure(
    client: openai.OpenAI, upstream: ScriptedUpstream, mcp: McpTestServers, server: str
) -> None:
    url = {
        "unreachable": f"http://127.0.0.1:{closed_port()}/mcp",
        "unauthorized": mcp.unauthorized_url,
        "redirect": mcp.redirect_url,  # 307 to another origin: not followed
    }[server]
    tools = [mcp_tool(url, label="broken", authorization="secret-token")]
    with pytest.raises(openai.APIStatusError) as caught:
        client.responses.create(model=MODEL, input="hi", tools=tools)
    assert caught.value.status_code == 424
    body = caught.value.body
    assert isinstance(body, dict) and "'broken'" in body["message"]
    assert "'broken'" in caught.value.message
    if server == "unauthorized":
        assert "401" in body["message"]
        assert mcp.unauthorized.http_methods().count("GET") == 0  # no SSE fallback on 401
    assert upstream.requests == []

    events = raw_stream(client, input="hi", tools=tools)
    assert [e.type for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.mcp_list_tools.in_progress",
        "response.mcp_list_tools.failed",
        "response.output_item.done",
        "response.failed",
    ]
    check_stream_invariants(events)
    done = events[5].item
    assert done.type == "mcp_list_tools" and "'broken'" in (done.error or "")
    failed = events[-1].response
    assert failed.status == "failed" and "'broken'" in failed.error.message
    assert upstream.requests == []
    # The SDK's helper accepts the stream (it just has no final response).
    with client.responses.stream(model=MODEL, input="hi", tools=tools) as stream:
        assert list(stream)[-1].type == "response.failed"
    assert mcp.sink.requests == []  # credentials never went to the redirect's target


# --------------------------------------------------------------------------- egress policy


def test_ssrf_refusals(make_gateway: Any, upstream: ScriptedUpstream, mcp: McpTestServers) -> None:
    client = make_gateway(mcp_allow_private_networks=False)
    port = mcp.streamable_url.split(":")[2].split("/")[0]
    for url in (
        f"http://127.0.0.1:{port}/mcp",
        f"http://localhost:{port}/mcp",
        "http://169.254.169.254/",
        f"http://[::ffff:127.0.0.1]:{port}/mcp",
        f"http://2130706433:{port}/mcp",
    ):
        for stream in (False, True):
            with pytest.raises(openai.BadRequestError) as caught:
                client.responses.create(
                    model=MODEL, input="hi", tools=[mcp_tool(url)], stream=stream
                )
            message = caught.value.message
            assert "not allowed" in message
            if "localhost" in url:
                assert "127.0.0.1" not in message and "::1" not in message
    assert mcp.streamable.requests == []
    assert upstream.requests == []


def test_allowed_hosts(make_gateway: Any, upstream: ScriptedUpstream, mcp: McpTestServers) -> None:
    client = make_gateway(mcp_allowed_hosts="localhost")
    port = mcp.streamable_url.split(":")[2].split("/")[0]
    with pytest.raises(openai.BadRequestError):
        client.responses.create(
            model=MODEL, input="hi", tools=[mcp_tool(f"http://127.0.0.1:{port}/mcp")]
        )
    upstream.push(Reply(tool_calls=[ADD]), Reply(content="5"))
    response = client.responses.create(
        model=MODEL, input="hi", tools=[mcp_tool(f"http://localhost:{port}/mcp")]
    )
    assert response.status == "completed"
    assert response.output[1].output == "5"


# --------------------------------------------------------------------------- secrets


def test_headers_and_authorization_are_redacted(
    make_gateway: Any,
    gateway: Gateway,
    upstream: ScriptedUpstream,
    mcp: McpTestServers,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = make_gateway(log_level="debug")
    secrets = ("secret-h", "secret-token", "secret-q")
    tools = [
        mcp_tool(
            mcp.streamable_url + "?key=secret-q",
            headers={"X-Test": "secret-h"},
            authorization="secret-token",
        )
    ]
    upstream.push(Reply(tool_calls=[ToolCall("echo_auth", "{}")]), Reply(content="seen"))
    with caplog.at_level(logging.DEBUG):
        events, final = run_stream(client, input="who am I", tools=tools)
    check_stream_invariants(events, final)
    call = final.output[1]
    assert json.loads(call.output) == {"authorization": "Bearer secret-token", "x_test": "secret-h"}
    # The MCP server got them on every request.
    assert all(r.headers.get("x-test") == "secret-h" for r in mcp.streamable.requests)
    assert all(
        r.headers.get("authorization") == "Bearer secret-token" for r in mcp.streamable.requests
    )
    # The upstream never did, except inside the tool's own output.
    for headers in upstream.headers:
        assert not any(s in json.dumps(headers) for s in secrets)
    for request in upstream.requests:
        without_results = dict(request)
        without_results["messages"] = [m for m in request["messages"] if m["role"] != "tool"]
        assert not any(s in json.dumps(without_results) for s in secrets)
    # Nor the echoed tools, the retrieved response outside that output, nor the stored rows.
    echoed = final.tools[0].model_dump()
    assert echoed["headers"] is None and not echoed.get("authorization")
    assert echoed["server_url"].endswith("/<redacted>")
    retrieved = client.responses.retrieve(final.id).model_dump(mode="json")
    assert not any(s in json.dumps(without_mcp_outputs(retrieved)) for s in secrets)
    rows, items = stored_rows(gateway.settings.database_url, final.id)
    assert len(rows) == 1 and not any(s in rows[0] for s in secrets)
    assert [item["type"] for item in items] == ["message", *types_of(final)]
    assert not any(s in json.dumps(without_mcp_outputs(items)) for s in secrets)
    # Nothing the gateway logs (at DEBUG) carries them; the test servers' own loggers and the
    # database drivers' (which log the stored tool output) are not the gateway's.
    gateway_side = ("responses_gateway", "mcp.client", "httpx", "httpcore", "fastapi", "starlette")
    leaked = [
        (record.name, record.getMessage()[:200])
        for record in caplog.records
        if record.name.startswith(gateway_side) and any(s in record.getMessage() for s in secrets)
    ]
    assert not leaked
    for event in events:
        dumped = json.dumps(without_mcp_outputs(event.model_dump(mode="json", warnings=False)))
        assert not any(s in dumped for s in secrets), event.type


# --------------------------------------------------------------------------- mixed with functions


def test_mcp_and_function_tools_mixed(
    client: openai.OpenAI, upstream: ScriptedUpstream, mcp: McpTestServers
) -> None:
    weather = {
        "type": "function",
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        "strict": None,
    }
    tools = [weather, mcp_tool(mcp.streamable_url, allowed_tools=["add"])]
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
    make_gateway: Any, upstream: ScriptedUpstream, mcp: McpTestServers
) -> None:
    client = make_gateway(mcp_max_output_bytes=2048)
    upstream.push(Reply(tool_calls=[ToolCall("big", '{"n": 20000}')]), Reply(content="long"))
    response = client.responses.create(
        model=MODEL, input="big", tools=[mcp_tool(mcp.streamable_url)]
    )
    output = response.output[1].output
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
    function = {"type": "function", "name": "local_fn", "parameters": {"type": "object"}}
    upstream.push(Reply(tool_calls=[ADD]), Reply(content="5"))
    client.responses.create(
        model=MODEL,
        input="add",
        tools=[mcp_tool(mcp.streamable_url), function],  # type: ignore[list-item]
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
    final = events[-1].response
    assert [(i.type, getattr(i, "server_label", None)) for i in final.output] == [
        ("mcp_list_tools", "other"),
        ("message", None),
    ]
    assert mcp.streamable.rpc_count("tools/list") == 1
    assert mcp.other.rpc_count("tools/list") == 1
    assert len(offered(upstream.requests[-1])) == len(first.output[0].tools) + 1
