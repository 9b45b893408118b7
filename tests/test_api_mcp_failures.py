"""MCP that goes wrong, and what must not leave the gateway, through the API with the official
``openai`` SDK: failing and timed-out tools, servers that cannot be listed, the egress policy
(private networks, allowed hosts), and headers and authorization kept from the upstream, the
echoed tools, the stored rows and the logs. Listing and calling: test_api_mcp_calls.py."""

from __future__ import annotations

import json
import logging
import socket
from typing import Any

import openai
import orjson
import pytest
from openai.types.responses import ResponseFailedEvent, ResponseOutputItemDoneEvent
from openai.types.responses.mcp_tool_call_error import McpProtocolError, McpToolExecutionError
from openai.types.responses.response_output_item import McpCall, McpListTools

from tests.conftest import Gateway, MakeGateway
from tests.support.database import read_database
from tests.support.mcp_servers import ADD, McpTestServers, mcp_tool
from tests.support.sdk_streams import (
    MODEL,
    check_stream_invariants,
    event_at,
    output_item,
    raw_stream,
    run_stream,
    types_of,
)
from tests.support.upstream import Reply, ScriptedUpstream, ToolCall


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    call = output_item(final, 1, McpCall)
    assert call.status == "failed" and call.output is None
    assert isinstance(call.error, McpToolExecutionError)  # type "mcp_tool_execution_error"
    assert "kaput" in json.dumps(call.error.content)
    tool_messages = [m for m in upstream.requests[-1]["messages"] if m["role"] == "tool"]
    assert len(tool_messages) == 1
    assert tool_messages[0]["content"] == "Error: Error executing tool fail: kaput"


def test_call_timeout_is_a_protocol_error(
    make_gateway: MakeGateway, upstream: ScriptedUpstream, mcp: McpTestServers
) -> None:
    client = make_gateway(mcp_call_timeout=0.3).client()
    upstream.push(
        Reply(tool_calls=[ToolCall("slow", '{"seconds": 1.2}')]), Reply(content="Too slow.")
    )
    response = client.responses.create(
        model=MODEL, input="slow", tools=[mcp_tool(mcp.streamable_url)]
    )
    assert response.status == "completed" and response.output_text == "Too slow."
    call = output_item(response, 1, McpCall)
    assert isinstance(call.error, McpProtocolError)  # type "mcp_protocol_error"
    assert call.error.code == -32001
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
    done = event_at(events, 5, ResponseOutputItemDoneEvent).item
    assert isinstance(done, McpListTools) and "'broken'" in (done.error or "")
    failed = event_at(events, -1, ResponseFailedEvent).response
    assert failed.error is not None
    assert failed.status == "failed" and "'broken'" in failed.error.message
    assert upstream.requests == []
    # The SDK's helper accepts the stream (it just has no final response).
    with client.responses.stream(model=MODEL, input="hi", tools=tools) as stream:
        assert list(stream)[-1].type == "response.failed"
    assert mcp.sink.requests == []  # credentials never went to the redirect's target


# --------------------------------------------------------------------------- egress policy


def test_ssrf_refusals(
    make_gateway: MakeGateway, upstream: ScriptedUpstream, mcp: McpTestServers
) -> None:
    client = make_gateway(mcp_allow_private_networks=False).client()
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


def test_allowed_hosts(
    make_gateway: MakeGateway, upstream: ScriptedUpstream, mcp: McpTestServers
) -> None:
    client = make_gateway(mcp_allowed_hosts="localhost").client()
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
    call = output_item(response, 1, McpCall)
    assert call.output == "5"


# --------------------------------------------------------------------------- secrets

SECRETS = ("secret-h", "secret-token", "secret-q")
GATEWAY_LOGGERS = ("responses_gateway", "mcp.client", "httpx", "httpcore", "fastapi", "starlette")
"""The gateway's side: the test servers' own loggers and the database drivers' (which log the
stored tool output) are not the gateway's."""


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


def leaks(text: str) -> bool:
    return any(secret in text for secret in SECRETS)


def without_tool_results(request: dict[str, Any]) -> dict[str, Any]:
    """An upstream chat request without its ``tool`` messages (the MCP server's own words)."""
    return {**request, "messages": [m for m in request["messages"] if m["role"] != "tool"]}


def gateway_log_leaks(records: list[logging.LogRecord]) -> list[tuple[str, str]]:
    """(logger, start of message) of each gateway log record that carries a secret."""
    return [
        (record.name, record.getMessage()[:200])
        for record in records
        if record.name.startswith(GATEWAY_LOGGERS) and leaks(record.getMessage())
    ]


def test_headers_and_authorization_are_redacted(
    make_gateway: MakeGateway,
    gateway: Gateway,
    upstream: ScriptedUpstream,
    mcp: McpTestServers,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = make_gateway(log_level="debug").client()
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
    call = output_item(final, 1, McpCall)
    assert call.output is not None
    assert json.loads(call.output) == {"authorization": "Bearer secret-token", "x_test": "secret-h"}
    # The MCP server got them on every request.
    assert all(r.headers.get("x-test") == "secret-h" for r in mcp.streamable.requests)
    assert all(
        r.headers.get("authorization") == "Bearer secret-token" for r in mcp.streamable.requests
    )
    # The upstream never did, except inside the tool's own output.
    assert not any(leaks(json.dumps(headers)) for headers in upstream.headers)
    assert not any(leaks(json.dumps(without_tool_results(r))) for r in upstream.requests)
    # Nor the echoed tools, the retrieved response outside that output, nor the stored rows.
    echoed = final.tools[0].model_dump()
    assert echoed["headers"] is None and not echoed.get("authorization")
    assert echoed["server_url"].endswith("/<redacted>")
    retrieved = client.responses.retrieve(final.id).model_dump(mode="json")
    assert not leaks(json.dumps(without_mcp_outputs(retrieved)))
    rows, items = stored_rows(gateway.settings.database_url, final.id)
    assert len(rows) == 1 and not leaks(rows[0])
    assert [item["type"] for item in items] == ["message", *types_of(final)]
    assert not leaks(json.dumps(without_mcp_outputs(items)))
    # Nothing the gateway logs (at DEBUG) carries them, nor any event outside that output.
    assert not gateway_log_leaks(caplog.records)
    for event in events:
        dumped = json.dumps(without_mcp_outputs(event.model_dump(mode="json", warnings=False)))
        assert not leaks(dumped), event.type
