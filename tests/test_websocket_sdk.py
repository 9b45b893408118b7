"""WebSocket mode through the official SDK's ``client.responses.connect()``: turns, continuation
of ``store: false`` responses on the socket, warm-ups, tools, lanes and auth."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import openai
import pytest
import websockets

from responses_gateway.app import create_app
from tests.conftest import Gateway, gateway_settings
from tests.support.mcp_servers import McpTestServers, running_mcp_servers
from tests.support.serving import serve_in_thread
from tests.support.upstream import Reply, ScriptedUpstream, ToolCall
from tests.support.websocket import raw_connect, sdk_turn, until_terminal

# The SDK's own sync connection calls websockets' connect() outside a context manager.
pytestmark = pytest.mark.filterwarnings("ignore:connect\\(\\) must be used:DeprecationWarning")

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def final(events: list[Any]) -> Any:
    assert events[-1].type == "response.completed", events[-1]
    return events[-1].response


def user_texts(request: dict[str, Any]) -> list[str]:
    return [m["content"] for m in request["messages"] if m["role"] == "user"]


def test_sequential_responses_on_one_socket(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(content="first"), Reply(content="second"))
    with client.responses.connect() as connection:
        one = sdk_turn(connection, model="m", input="Reply: first", store=False)
        two = sdk_turn(connection, model="m", input="Reply: second", store=False)
    assert final(one).output_text == "first" and final(two).output_text == "second"
    for events in (one, two):
        assert [e.sequence_number for e in events] == list(range(len(events)))
        assert events[0].type == "response.created"
    assert user_texts(upstream.last) == ["Reply: second"]  # no previous_response_id: no chain


def test_store_false_continuation_sends_only_the_new_input(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(content="OK"), Reply(content="cobalt"))
    with client.responses.connect() as connection:
        first = final(sdk_turn(connection, model="m", input="Code word: cobalt.", store=False))
        second = final(
            sdk_turn(
                connection,
                model="m",
                input="What is the code word?",
                previous_response_id=first.id,
                store=False,
            )
        )
    assert second.previous_response_id == first.id
    assert upstream.last["messages"] == [
        {"role": "user", "content": "Code word: cobalt."},
        {"role": "assistant", "content": "OK"},
        {"role": "user", "content": "What is the code word?"},
    ]
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(first.id)  # store=false: never written


def test_store_false_parent_is_unknown_on_another_socket(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    with client.responses.connect() as connection:
        first = final(sdk_turn(connection, model="m", input="Code word: copper.", store=False))
    with client.responses.connect() as connection:
        refused = sdk_turn(
            connection, model="m", input="again", previous_response_id=first.id, store=False
        )
        recovered = sdk_turn(connection, model="m", input="start over", store=False)
    error = refused[-1]
    assert error.type == "error" and error.code == "previous_response_not_found"
    assert error.param == "previous_response_id" and error.error.code == error.code
    assert error.status == 400
    final(recovered)  # the socket stays usable after an error
    assert len(upstream.requests) == 2


def test_failed_continuation_evicts_the_parent(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    orphan = {"type": "function_call_output", "call_id": "call_missing", "output": "x"}
    with client.responses.connect() as connection:
        first = final(sdk_turn(connection, model="m", input="Code word: ember.", store=False))
        failed = sdk_turn(
            connection, model="m", input=[orphan], previous_response_id=first.id, store=False
        )
        retry = sdk_turn(
            connection, model="m", input="stale?", previous_response_id=first.id, store=False
        )
    assert failed[-1].type == "error" and failed[-1].param == "input[0]"
    assert retry[-1].type == "error" and retry[-1].code == "previous_response_not_found"


def test_a_run_that_fails_evicts_its_parent(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(content="OK"), Reply(status=500))
    with client.responses.connect() as connection:
        first = final(sdk_turn(connection, model="m", input="hello", store=False))
        failed = sdk_turn(
            connection, model="m", input="go", previous_response_id=first.id, store=False
        )
        retry = sdk_turn(
            connection, model="m", input="go", previous_response_id=first.id, store=False
        )
    assert failed[-1].type == "response.failed"
    assert retry[-1].type == "error" and retry[-1].code == "previous_response_not_found"


def test_a_stored_response_cannot_continue_an_unstored_one(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    with client.responses.connect() as connection:
        first = final(sdk_turn(connection, model="m", input="hello", store=False))
        refused = sdk_turn(connection, model="m", input="go", previous_response_id=first.id)
    assert refused[-1].type == "error" and refused[-1].param == "store"
    assert len(upstream.requests) == 1


def test_generate_false_warms_up_without_the_model(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(content="Ada"))
    with client.responses.connect() as connection:
        warm = sdk_turn(
            connection,
            model="m",
            instructions="Be brief.",
            input="My name is Ada.",
            generate=False,
            store=False,
        )
        assert [e.type for e in warm] == ["response.created", "response.completed"]
        assert upstream.requests == []
        warmed = final(warm)
        assert warmed.output == [] and warmed.usage is not None
        answer = final(
            sdk_turn(
                connection, model="m", input="My name?", previous_response_id=warmed.id, store=False
            )
        )
    assert answer.output_text == "Ada"
    assert user_texts(upstream.last) == ["My name is Ada.", "My name?"]


def test_generate_false_stored_chains_over_http(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    with client.responses.connect() as connection:
        warmed = final(sdk_turn(connection, model="m", input="Remember 42.", generate=False))
    assert client.responses.retrieve(warmed.id).status == "completed"
    client.responses.create(model="m", input="Which number?", previous_response_id=warmed.id)
    assert user_texts(upstream.last) == ["Remember 42.", "Which number?"]


def test_function_tool_round_trip(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    upstream.push(
        Reply(tool_calls=[ToolCall("get_weather", '{"city": "Paris"}', id="call_w")]),
        Reply(content="Sunny in Paris."),
    )
    with client.responses.connect() as connection:
        asked = final(
            sdk_turn(connection, model="m", input="Weather?", tools=[WEATHER], store=False)
        )
        call = next(item for item in asked.output if item.type == "function_call")
        output = {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}
        answered = final(
            sdk_turn(
                connection,
                model="m",
                input=[output],
                tools=[WEATHER],
                previous_response_id=asked.id,
                store=False,
            )
        )
    assert answered.output_text == "Sunny in Paris."
    roles = [m["role"] for m in upstream.last["messages"]]
    assert roles == ["user", "assistant", "tool"]
    assert upstream.last["messages"][2] == {
        "role": "tool",
        "tool_call_id": "call_w",
        "content": "sunny",
    }


@pytest.fixture(scope="module")
def mcp() -> Iterator[McpTestServers]:
    with running_mcp_servers() as servers:
        yield servers


def test_mcp_tool_loop(
    client: openai.OpenAI, upstream: ScriptedUpstream, mcp: McpTestServers
) -> None:
    upstream.push(Reply(tool_calls=[ToolCall("add", '{"a": 2, "b": 3}')]), Reply(content="5"))
    tool = {"type": "mcp", "server_label": "calc", "server_url": mcp.streamable_url}
    with client.responses.connect() as connection:
        events = sdk_turn(connection, model="m", input="2+3?", tools=[tool], store=False)
    response = final(events)
    assert [item.type for item in response.output] == ["mcp_list_tools", "mcp_call", "message"]
    assert response.output[1].output == "5" and response.output_text == "5"
    kinds = [event.type for event in events]
    assert "response.mcp_call.completed" in kinds and "response.mcp_list_tools.completed" in kinds


def test_two_lanes_run_at_once(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    def reply(request: dict[str, Any]) -> Reply:
        if user_texts(request) == ["slow"]:
            return Reply(content="s" * 200, chunk_size=2, chunk_delay=0.02)
        return Reply(content="fast")

    upstream.push(reply, reply)
    with client.responses.connect() as connection:
        connection.response.create(model="m", input="slow", stream_id="a", store=False)
        connection.response.create(model="m", input="fast", stream_id="b", store=False)
        events = until_terminal(connection)
        events += until_terminal(connection)
    first_terminal = events[-len(events) + len(events) // 2 - 1]
    finished = [e.stream_id for e in events if e.type == "response.completed"]
    assert finished == ["b", "a"], "the fast lane waited for the slow one"
    assert {e.stream_id for e in events} == {"a", "b"}
    assert first_terminal is not None
    for lane in ("a", "b"):
        numbers = [e.sequence_number for e in events if e.stream_id == lane]
        assert numbers == list(range(len(numbers)))


def test_one_lane_runs_in_order(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    upstream.push(Reply(content="one " * 50, chunk_delay=0.005), Reply(content="two"))
    with client.responses.connect() as connection:
        connection.response.create(model="m", input="1", store=False)
        connection.response.create(model="m", input="2", store=False)
        first, second = until_terminal(connection), until_terminal(connection)
    assert final(first).output_text.startswith("one") and final(second).output_text == "two"


@pytest.fixture
def keyed_gateway(gateway: Gateway, upstream: ScriptedUpstream) -> Iterator[Gateway]:
    settings = gateway_settings(
        gateway.settings.database_url, upstream.base_url, api_keys=["sk-right"]
    )
    with serve_in_thread(create_app(settings)) as url:
        yield Gateway(url, settings)


def test_auth_is_checked_on_the_handshake(keyed_gateway: Gateway) -> None:
    for key in ("sk-wrong", None):
        with (
            pytest.raises(websockets.InvalidStatus) as refused,
            raw_connect(keyed_gateway.base_url, key),
        ):
            pass
        assert refused.value.response.status_code == 401
        body = refused.value.response.body or b""
        assert b'"code":"invalid_api_key"' in body and b'"type":"invalid_request_error"' in body
    with (
        pytest.raises(Exception, match="401"),
        keyed_gateway.client("sk-wrong").responses.connect() as connection,
    ):
        connection.recv()
    with contextlib.closing(keyed_gateway.client("sk-right").responses.connect().enter()) as conn:
        assert final(sdk_turn(conn, model="m", input="hi", store=False)).status == "completed"
