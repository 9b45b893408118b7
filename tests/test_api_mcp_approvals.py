"""MCP approvals and limits through the API with the official ``openai`` SDK: calls that wait for
an ``mcp_approval_response`` (approved, denied, filtered, defaulted), and the caps on calls and
rounds, with parallel calls sharing one session. Listing and calling: test_api_mcp_calls.py."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

import openai
import pytest
from openai.types.responses import Response, ResponseIncompleteEvent, ResponseInputParam, ToolParam
from openai.types.responses.response_input_param import (
    McpApprovalResponse as McpApprovalResponseParam,
)
from openai.types.responses.response_output_item import McpApprovalRequest, McpCall

from responses_gateway.chat.messages import DENIED_TOOL_RESULT
from tests.conftest import MakeGateway
from tests.support.mcp_servers import ADD, McpTestServers, mcp_tool
from tests.support.sdk_streams import (
    MODEL,
    check_stream_invariants,
    event_at,
    output_item,
    raw_stream,
    run_stream,
    squash,
    types_of,
)
from tests.support.upstream import Reply, ScriptedUpstream, ToolCall

# --------------------------------------------------------------------------- approvals


def approval_answer(
    request_id: str, *, approve: bool, reason: str | None = None
) -> ResponseInputParam:
    """The input that answers one ``mcp_approval_request``."""
    answer: McpApprovalResponseParam = {
        "type": "mcp_approval_response",
        "approval_request_id": request_id,
        "approve": approve,
    }
    if reason is not None:
        answer["reason"] = reason
    return [answer]


def approve(
    client: openai.OpenAI, previous_id: str, tools: Iterable[ToolParam], request_id: str
) -> Response:
    """Approve ``request_id`` in a response that follows ``previous_id``."""
    return client.responses.create(
        model=MODEL,
        previous_response_id=previous_id,
        tools=tools,
        input=approval_answer(request_id, approve=True),
    )


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
    request = output_item(first, 1, McpApprovalRequest)
    assert (
        request.id.startswith("mcpr") and request.name == "add" and request.server_label == "calc"
    )
    assert json.loads(request.arguments) == {"a": 2, "b": 3}
    assert mcp.streamable.rpc_count("tools/call") == 0

    upstream.push(Reply(content="It is 5."))
    second = approve(client, first.id, tools, request.id)
    assert second.status == "completed"
    assert types_of(second) == ["mcp_call", "message"]
    call = output_item(second, 0, McpCall)
    assert call.approval_request_id == request.id
    assert call.output == "5" and call.name == "add"
    assert second.output_text == "It is 5."
    assert mcp.streamable.rpc_count("tools/call") == 1
    assert mcp.streamable.rpc_count("tools/list") == 1
    assert upstream.requests[-1]["messages"][-1]["content"] == "5"
    # Approving it again (from the later response) does not run the tool a second time.
    with pytest.raises(openai.BadRequestError):
        approve(client, second.id, tools, request.id)
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
        input=approval_answer(request.id, approve=False, reason="not today"),
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
    call, request = response.output[1], response.output[2]
    assert isinstance(call, McpCall) and isinstance(request, McpApprovalRequest)
    assert call.name == "add" and call.output == "5"
    assert request.name == "lookup"
    assert len(upstream.requests) == 1
    assert mcp.streamable.rpc_count("tools/call") == 1


def test_default_approval_from_environment(
    make_gateway: MakeGateway,
    upstream: ScriptedUpstream,
    mcp: McpTestServers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_MCP_DEFAULT_APPROVAL", "always")
    client = make_gateway().client()
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
    # The SDK's Literal lacks the gateway's "max_tool_calls" reason: compare it as a str.
    reason: str | None = response.incomplete_details.reason
    assert reason == "max_tool_calls"
    assert types_of(response) == ["mcp_list_tools", "mcp_call", "mcp_call"]
    assert mcp.streamable.rpc_count("tools/call") == 2
    assert len(upstream.requests) == 3  # the third round's call is not executed

    upstream.requests.clear()
    events = raw_stream(
        client, input="loop", tools=[mcp_tool(mcp.streamable_url)], max_tool_calls=1
    )
    check_stream_invariants(events)
    incomplete = event_at(events, -1, ResponseIncompleteEvent).response
    assert incomplete.incomplete_details is not None
    streamed_reason: str | None = incomplete.incomplete_details.reason  # as above
    assert streamed_reason == "max_tool_calls"
    assert [i.type for i in incomplete.output] == ["mcp_list_tools", "mcp_call"]


def test_max_tool_rounds(
    make_gateway: MakeGateway, upstream: ScriptedUpstream, mcp: McpTestServers
) -> None:
    client = make_gateway(max_tool_rounds=2).client()
    upstream.default = Reply(tool_calls=[ADD])
    response = client.responses.create(
        model=MODEL, input="loop", tools=[mcp_tool(mcp.streamable_url)]
    )
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    # The SDK's Literal lacks the gateway's "max_tool_calls" reason: compare it as a str.
    reason: str | None = response.incomplete_details.reason
    assert reason == "max_tool_calls"
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
