"""The in-memory history cache: what a chained turn sends upstream never depends on it, and the
database stays the source of truth across replicas (deletes are seen at once)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, cast

import openai
import pytest
from openai.types.responses import FunctionToolParam
from openai.types.responses.response_input_param import FunctionCallOutput

from responses_gateway.app import create_app
from responses_gateway.service.history import History, HistoryCache
from responses_gateway.store.database import Query
from tests.conftest import Gateway, gateway_settings
from tests.support.database import read_database, with_database
from tests.support.serving import serve_in_thread
from tests.support.upstream import Reply, ScriptedUpstream, ToolCall

# No ``strict``, which the SDK's type requires and clients leave out.
WEATHER = cast(
    FunctionToolParam,
    {
        "type": "function",
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
)


@pytest.fixture
def replicas(database_url: str, upstream: ScriptedUpstream) -> Iterator[dict[str, Gateway]]:
    """Three gateways on one database: two replicas with the cache, one without."""
    settings = {
        "a": gateway_settings(database_url, upstream.base_url),
        "b": gateway_settings(database_url, upstream.base_url),
        "uncached": gateway_settings(database_url, upstream.base_url, history_cache_mb=0),
    }
    with contextlib.ExitStack() as stack:
        yield {
            name: Gateway(stack.enter_context(serve_in_thread(create_app(config))), config)
            for name, config in settings.items()
        }


def _conversation(client: openai.OpenAI, upstream: ScriptedUpstream) -> list[list[Any]]:
    """A chain that crosses turn boundaries in every way the chat form groups: instructions,
    text with a call, the call's output in the next turn, a streamed turn; the messages the
    upstream received at each turn."""
    upstream.push(
        Reply(content="one"),
        Reply(content="Checking.", tool_calls=[ToolCall("get_weather", '{"city": "Oslo"}', "c1")]),
        Reply(content="Sunny."),
        Reply(content="streamed answer"),
    )
    first = client.responses.create(model="m", input="hi", instructions="Be brief.")
    second = client.responses.create(
        model="m", input="weather?", tools=[WEATHER], previous_response_id=first.id
    )
    output: FunctionCallOutput = {
        "type": "function_call_output",
        "call_id": "c1",
        "output": "sunny",
    }
    third = client.responses.create(
        model="m",
        input=[output],
        tools=[WEATHER],
        previous_response_id=second.id,
    )
    with client.responses.stream(
        model="m", input="and tomorrow?", previous_response_id=third.id
    ) as stream:
        stream.until_done()
    return [request["messages"] for request in upstream.requests[-4:]]


def test_cached_and_uncached_gateways_send_the_same_messages(
    replicas: dict[str, Gateway], upstream: ScriptedUpstream
) -> None:
    cached = _conversation(replicas["a"].client(), upstream)
    uncached = _conversation(replicas["uncached"].client(), upstream)
    assert cached == uncached
    assert cached[-1][0] == {"role": "user", "content": "hi"}  # instructions are not inherited
    assert {"role": "tool", "tool_call_id": "c1", "content": "sunny"} in cached[-1]
    assert len(cached[-1]) == 7


def test_replicas_chain_from_each_other_and_see_deletes(
    replicas: dict[str, Gateway], upstream: ScriptedUpstream, database_url: str
) -> None:
    a, b = replicas["a"].client(), replicas["b"].client()
    first = a.responses.create(model="m", input="one")
    second = b.responses.create(model="m", input="two", previous_response_id=first.id)
    a.responses.create(model="m", input="three", previous_response_id=second.id)
    users = [m["content"] for m in upstream.last["messages"] if m["role"] == "user"]
    assert users == ["one", "two", "three"]

    # A response cached on a, deleted through b, is refused on a in every way of asking.
    # A stored non-streamed create confirms it in its save (the model has run, nothing is
    # stored); a stream or a store=false create confirms it before the model is called.
    cases: list[tuple[dict[str, Any], int]] = [
        ({}, 1),
        ({"store": False}, 0),
        ({"stream": True}, 0),
    ]
    for options, model_calls in cases:
        head = a.responses.create(model="m", input="head", previous_response_id=first.id)
        b.responses.delete(head.id)
        upstream.reset()
        with pytest.raises(openai.BadRequestError) as caught:
            a.responses.create(model="m", input="next", previous_response_id=head.id, **options)
        assert caught.value.code == "previous_response_not_found"
        assert len(upstream.requests) == model_calls
    chained = "SELECT count(*) FROM responses WHERE previous_response_id = :id"
    assert read_database(database_url, chained, id=head.id) == [(0,)]


def test_cached_chain_is_refused_to_another_key(
    database_url: str, upstream: ScriptedUpstream
) -> None:
    settings = gateway_settings(database_url, upstream.base_url, api_keys=["key-a", "key-b"])
    with serve_in_thread(create_app(settings)) as url:
        alice = Gateway(url, settings).client("key-a")
        bob = Gateway(url, settings).client("key-b")
        first = alice.responses.create(model="m", input="mine")
        mine = alice.responses.create(model="m", input="mine too", previous_response_id=first.id)
        with pytest.raises(openai.BadRequestError) as caught:  # alice's chain is in memory
            bob.responses.create(model="m", input="x", previous_response_id=mine.id)
        assert caught.value.code == "previous_response_not_found"
        alice.responses.create(model="m", input="still mine", previous_response_id=mine.id)


def test_a_cached_chain_is_not_read_again(
    replicas: dict[str, Gateway], upstream: ScriptedUpstream, database_url: str
) -> None:
    """Rewriting a stored item behind the gateways' backs shows which one reads the database:
    the replica that made the chain answers from memory, the uncached one from the rows."""
    a = replicas["a"].client()
    first = a.responses.create(model="m", input="original")
    second = a.responses.create(model="m", input="two", previous_response_id=first.id)
    rewrite = Query(
        "UPDATE response_items SET data = REPLACE(data, 'original', 'rewritten') "
        "WHERE response_id = :id"
    )
    assert with_database(database_url, lambda db: db.execute(rewrite, {"id": first.id})) == 2

    def first_user_message(client: openai.OpenAI) -> Any:
        client.responses.create(model="m", input="three", previous_response_id=second.id)
        return upstream.last["messages"][0]["content"]

    assert first_user_message(a) == "original"
    assert first_user_message(replicas["uncached"].client()) == "rewritten"


def _history(size: int) -> History:
    return History.of([[{"type": "message"}]], size)


def test_cache_keeps_to_its_budget_least_recently_used_first() -> None:
    cache = HistoryCache(budget_bytes=1000)  # histories weigh about 5x their stored size
    cache.put("", "r1", _history(80))
    cache.put("", "r2", _history(80))
    assert cache.get("", "r1") is not None  # r1 is now the most recent
    cache.put("", "r3", _history(80))  # over budget: r2 goes
    assert cache.get("", "r2") is None
    assert cache.get("", "r1") is not None and cache.get("", "r3") is not None
    cache.put("", "big", _history(201))  # heavier than the whole budget: not kept
    assert cache.get("", "big") is None
    cache.discard("", "r1")
    assert cache.get("", "r1") is None
    off = HistoryCache(budget_bytes=0)
    off.put("", "r1", _history(1))
    assert off.get("", "r1") is None
