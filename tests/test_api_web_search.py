"""The gateway's own web search (``GATEWAY_WEB_SEARCH_URL``) against a SearXNG-shaped server on
a real socket: ``web_search_call`` items and their events, results fed back to the model,
sources on ``include``, failures told to the model; on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai.types.responses import (
    ResponseFunctionWebSearch,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    WebSearchToolParam,
)

from responses_gateway.app import create_app
from tests.conftest import Gateway, gateway_settings
from tests.support.sdk_streams import (
    MODEL,
    check_stream_invariants,
    error_param,
    event_at,
    output_item,
    run_stream,
    squash,
)
from tests.support.searxng import SearchServer, running_search_server
from tests.support.serving import serve_in_thread
from tests.support.upstream import Reply, ScriptedUpstream, ToolCall, offered

SEARCH = ToolCall("web_search", '{"query": "responses gateway"}', id="s1")


@pytest.fixture(scope="module")
def search_server() -> Iterator[SearchServer]:
    with running_search_server() as server:
        yield server


@pytest.fixture
def search(
    gateway: Gateway, upstream: ScriptedUpstream, search_server: SearchServer
) -> Iterator[openai.OpenAI]:
    """A gateway with the web search on, on the same database and upstream."""
    search_server.reset()
    settings = gateway_settings(
        gateway.settings.database_url, upstream.base_url, web_search_url=search_server.url
    )
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(serve_in_thread(create_app(settings)))
        yield Gateway(url, settings).client()


def tool_messages(request: dict[str, Any]) -> list[str]:
    return [m["content"] for m in request["messages"] if m["role"] == "tool"]


def test_web_search_runs_in_the_turn(
    search: openai.OpenAI, upstream: ScriptedUpstream, search_server: SearchServer
) -> None:
    upstream.push(Reply(tool_calls=[SEARCH]), Reply(content="It is a gateway."))
    response = search.responses.create(
        model=MODEL, input="What is it?", tools=[{"type": "web_search"}]
    )
    assert offered(upstream.requests[0]) == ["web_search"]
    assert search_server.queries == [{"q": ["responses gateway"], "format": ["json"]}]
    call = output_item(response, 0, ResponseFunctionWebSearch)
    assert call.status == "completed" and call.action.type == "search"
    assert call.action.query == "responses gateway" and call.action.sources is None
    assert response.output_text == "It is a gateway."
    [result] = tool_messages(upstream.last)
    assert "1. responses gateway result 1\nhttps://example.org/1\nAbout responses gateway" in result
    assert response.model_dump(exclude_none=True)["output"][0].keys() == {
        "id",
        "type",
        "status",
        "action",
    }
    assert response.tools[0].type == "web_search"

    upstream.push(Reply(content="Still a gateway."))
    search.responses.create(
        model=MODEL, input="And?", previous_response_id=response.id, tools=[{"type": "web_search"}]
    )
    [replayed] = tool_messages(upstream.last)
    assert "not kept" in replayed  # stored chains keep the call, not the results


def test_web_search_sources_on_include(search: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    upstream.push(Reply(tool_calls=[SEARCH]), Reply(content="ok"))
    response = search.responses.create(
        model=MODEL,
        input="x",
        tools=[{"type": "web_search_preview"}],
        include=["web_search_call.action.sources"],
    )
    call = output_item(response, 0, ResponseFunctionWebSearch)
    assert call.action.type == "search"
    assert [(s.type, s.url) for s in call.action.sources or ()] == [
        ("url", "https://example.org/1"),
        ("url", "https://docs.example.org/2"),
        ("url", "https://other.net/3"),
    ]


def test_web_search_allowed_domains(search: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    """``filters.allowed_domains`` narrows the results (subdomains included), as OpenAI's does."""
    upstream.push(Reply(tool_calls=[SEARCH]), Reply(content="ok"))
    tool: WebSearchToolParam = {
        "type": "web_search",
        "filters": {"allowed_domains": ["Example.org"]},
    }
    response = search.responses.create(
        model=MODEL, input="x", tools=[tool], include=["web_search_call.action.sources"]
    )
    call = output_item(response, 0, ResponseFunctionWebSearch)
    assert call.action.type == "search"
    assert [s.url for s in call.action.sources or ()] == [
        "https://example.org/1",
        "https://docs.example.org/2",
    ]
    [result] = tool_messages(upstream.last)
    assert "other.net" not in result
    with pytest.raises(openai.BadRequestError) as caught:
        bad = {"type": "web_search", "filters": {"allowed_domains": "example.org"}}  # not a list
        search.responses.create(model=MODEL, input="x", tools=[bad])  # type: ignore[list-item]
    assert error_param(caught.value) == "tools[0].filters.allowed_domains"


def test_web_search_streamed_in_openai_order(
    search: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(tool_calls=[SEARCH]), Reply(content="It is a gateway."))
    events, final = run_stream(search, input="x", tools=[{"type": "web_search"}])
    check_stream_invariants(events, final)
    kinds = squash([e.type for e in events])
    assert kinds[2:7] == [
        "response.output_item.added",
        "response.web_search_call.in_progress",
        "response.web_search_call.searching",
        "response.web_search_call.completed",
        "response.output_item.done",
    ]
    assert kinds[7] == "response.output_item.added" and kinds[-1] == "response.completed"
    opened = event_at(events, 2, ResponseOutputItemAddedEvent).item
    closed = event_at(events, 6, ResponseOutputItemDoneEvent).item
    assert isinstance(opened, ResponseFunctionWebSearch)
    assert isinstance(closed, ResponseFunctionWebSearch)
    assert opened.status == "in_progress" and closed.status == "completed"
    assert [item.type for item in final.output] == ["web_search_call", "message"]


@pytest.mark.parametrize(
    ("status", "body", "told"),
    [
        (500, b"{}", "HTTP 500"),
        (200, b"<html>", "did not answer JSON"),
        (200, b'{"answers": []}', "no results list"),
    ],
)
def test_web_search_failure_is_told_to_the_model(
    search: openai.OpenAI,
    upstream: ScriptedUpstream,
    search_server: SearchServer,
    status: int,
    body: bytes,
    told: str,
) -> None:
    search_server.status, search_server.body = status, body
    upstream.push(Reply(tool_calls=[SEARCH]), Reply(content="Search is down."))
    events, final = run_stream(search, input="x", tools=[{"type": "web_search"}])
    check_stream_invariants(events, final)
    assert final.status == "completed"
    assert output_item(final, 0, ResponseFunctionWebSearch).status == "failed"
    assert "response.web_search_call.completed" not in [e.type for e in events]
    [result] = tool_messages(upstream.last)
    assert result.startswith("Error: the web search failed") and told in result
    assert search_server.url not in result


def test_unreachable_search_backend_is_told_to_the_model(
    gateway: Gateway, upstream: ScriptedUpstream
) -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/search?token=secret"
    settings = gateway_settings(
        gateway.settings.database_url, upstream.base_url, web_search_url=url
    )
    upstream.push(Reply(tool_calls=[SEARCH]), Reply(content="Search is down."))
    with serve_in_thread(create_app(settings)) as served:
        response = (
            Gateway(served, settings)
            .client()
            .responses.create(model=MODEL, input="x", tools=[{"type": "web_search"}])
        )
    call = output_item(response, 0, ResponseFunctionWebSearch)
    assert call.status == "failed"
    assert response.output_text == "Search is down."
    [result] = tool_messages(upstream.last)
    assert "could not be reached" in result and "secret" not in result and "127.0.0.1" not in result


def test_web_search_counts_against_max_tool_calls(
    search: openai.OpenAI, upstream: ScriptedUpstream, search_server: SearchServer
) -> None:
    two = [SEARCH, ToolCall("web_search", '{"query": "b"}', id="s2")]
    upstream.push(Reply(tool_calls=two))
    response = search.responses.create(
        model=MODEL, input="x", tools=[{"type": "web_search"}], max_tool_calls=1
    )
    assert response.status == "incomplete"
    assert response.incomplete_details
    reason: str | None = response.incomplete_details.reason  # the SDK's Literal lacks this one
    assert reason == "max_tool_calls"
    assert len(search_server.queries) == 1


def test_forced_web_search(search: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    upstream.push(Reply(tool_calls=[SEARCH]), Reply(content="ok"))
    search.responses.create(
        model=MODEL,
        input="x",
        tools=[{"type": "web_search_preview"}],
        tool_choice={"type": "web_search_preview"},
    )
    first = upstream.requests[0]
    assert first["tool_choice"] == "required"
    assert [tool["function"]["name"] for tool in first["tools"]] == ["web_search"]
    assert upstream.requests[1]["tool_choice"] == "auto"
