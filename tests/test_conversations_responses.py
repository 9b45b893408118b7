"""Responses in a conversation: its items come first, the response's input and output are
appended when it is stored (streamed or not), racing responses both land, and the in-memory
history stays exact when the conversation changes under it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import openai
import pytest
from openai.types.conversations import ConversationItem, Message
from openai.types.responses import ResponseInputText, ResponseOutputText

from responses_gateway.app import create_app
from responses_gateway.ids import new_id
from responses_gateway.store.conversations import ConversationStore
from responses_gateway.store.database import Database
from tests.conftest import Gateway, gateway_settings
from tests.support.database import read_database, with_database
from tests.support.sdk_streams import error_param, narrowed
from tests.support.serving import serve_in_thread
from tests.support.upstream import Reply, ScriptedUpstream


def _sent(upstream: ScriptedUpstream) -> list[tuple[str, Any]]:
    return [(m["role"], m["content"]) for m in upstream.last["messages"]]


def _first_text(item: ConversationItem) -> str:
    part = narrowed(item, Message).content[0]
    assert isinstance(part, ResponseInputText | ResponseOutputText), part
    return part.text


def _kinds(client: openai.OpenAI, conversation_id: str) -> list[tuple[str, str]]:
    items = client.conversations.items.list(conversation_id, order="asc", limit=100)
    return [(narrowed(item, Message).role, _first_text(item)) for item in items.data]


def test_a_conversation_carries_turns(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    conversation = client.conversations.create(items=[{"role": "user", "content": "I am Ada."}])
    upstream.push(Reply(content="Hi Ada."), Reply(content="Ada."), Reply(content="Bye."))
    first = client.responses.create(
        model="m", input="Greet me.", conversation=conversation.id, instructions="Be brief."
    )
    assert first.conversation is not None and first.conversation.id == conversation.id
    assert _sent(upstream) == [
        ("system", "Be brief."),
        ("user", "I am Ada."),
        ("user", "Greet me."),
    ]
    with client.responses.stream(
        model="m", input="My name?", conversation={"id": conversation.id}
    ) as stream:
        streamed = stream.get_final_response()
    assert streamed.conversation is not None and streamed.conversation.id == conversation.id
    assert _sent(upstream)[-3:] == [
        ("user", "Greet me."),
        ("assistant", "Hi Ada."),
        ("user", "My name?"),
    ]
    assert _kinds(client, conversation.id) == [
        ("user", "I am Ada."),
        ("user", "Greet me."),
        ("assistant", "Hi Ada."),
        ("user", "My name?"),
        ("assistant", "Ada."),
    ]
    # The conversation's items are the responses' own (same ids), and retrieving still works.
    items = client.conversations.items.list(conversation.id, order="asc").data
    assert items[2].id == first.output[0].id
    retrieved = client.responses.retrieve(first.id).conversation
    assert retrieved is not None and retrieved.id == conversation.id
    client.responses.create(model="m", input="bye", conversation=conversation.id, store=False)
    assert len(_kinds(client, conversation.id)) == 5  # store: false appends nothing


def test_conversation_is_checked(client: openai.OpenAI, gateway: Gateway) -> None:
    first = client.responses.create(model="m", input="x")
    conversation = client.conversations.create()
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(
            model="m", input="x", conversation=conversation.id, previous_response_id=first.id
        )
    assert error_param(caught.value) == "conversation"
    with pytest.raises(openai.NotFoundError) as missing:
        client.responses.create(model="m", input="x", conversation="conv_unknown")
    assert error_param(missing.value) == "conversation"
    for value in (5, {"id": 5}, {}, ""):
        answer = httpx.post(
            f"{gateway.base_url}/responses",
            json={"model": "m", "input": "x", "conversation": value},
        )
        assert answer.status_code == 400 and answer.json()["error"]["param"] == "conversation"


def test_racing_responses_both_land(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    conversation = client.conversations.create()
    # Both requests read the empty conversation before either is stored.
    upstream.push(Reply(content="answer", delay=0.3), Reply(content="answer", delay=0.3))

    def ask(text: str) -> str:
        return client.responses.create(model="m", input=text, conversation=conversation.id).id

    with ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(ask, ["left", "right"]))
    items = client.conversations.items.list(conversation.id, order="asc").data
    assert len(items) == 4
    inputs = [_first_text(item) for item in items[0::2]]
    assert sorted(inputs) == ["left", "right"]
    # Each response's input is followed by its own output: appends never interleave.
    outputs = [item.id for item in items[1::2]]
    answers = zip(["left", "right"], ids, strict=True)
    by_input = {text: client.responses.retrieve(rid).output[0].id for text, rid in answers}
    assert outputs == [by_input[text] for text in inputs]


@pytest.fixture
def replicas(database_url: str, upstream: ScriptedUpstream) -> Iterator[dict[str, Gateway]]:
    settings = {
        "a": gateway_settings(database_url, upstream.base_url),
        "b": gateway_settings(database_url, upstream.base_url),
    }
    with contextlib.ExitStack() as stack:
        yield {
            name: Gateway(stack.enter_context(serve_in_thread(create_app(config))), config)
            for name, config in settings.items()
        }


def test_cached_history_follows_every_change(
    replicas: dict[str, Gateway], upstream: ScriptedUpstream
) -> None:
    a, b = replicas["a"].client(), replicas["b"].client()
    conversation = a.conversations.create(items=[{"role": "user", "content": "start"}])
    a.responses.create(model="m", input="one", conversation=conversation.id)
    a.responses.create(model="m", input="two", conversation=conversation.id)  # cached now
    b.responses.create(model="m", input="three", conversation=conversation.id)  # other replica
    a.conversations.items.create(conversation.id, items=[{"role": "user", "content": "added"}])
    first = narrowed(a.conversations.items.list(conversation.id, order="asc").data[0], Message)
    a.conversations.items.delete(first.id, conversation_id=conversation.id)
    a.responses.create(model="m", input="four", conversation=conversation.id)
    users = [content for role, content in _sent(upstream) if role == "user"]
    assert users == ["one", "two", "three", "added", "four"]


def test_a_conversation_is_read_in_one_query(database_url: str, client: openai.OpenAI) -> None:
    conversation = client.conversations.create(items=[{"role": "user", "content": "hi"}])
    for n in range(3):
        client.responses.create(model="m", input=f"turn {n}", conversation=conversation.id)

    async def read(database: Database) -> tuple[list[int], int]:
        before = database.statements
        found = await ConversationStore(database).items("", conversation.id)
        assert found is not None
        return [len(turn) for turn in found.turns], database.statements - before

    assert with_database(database_url, read) == ([1, 2, 2, 2], 1)  # four turns, one statement
    count = "SELECT count(*) FROM conversation_items WHERE conversation_id = :id AND data IS NULL"
    # The responses' six items are referenced, not copied; only the item added directly has data.
    assert read_database(database_url, count, id=conversation.id) == [(6,)]


def test_concurrent_saves_on_one_conversation_never_collide(database_url: str) -> None:
    """Twenty saves at once on one conversation, each on its own connection (PostgreSQL) or
    queued on the writer (SQLite): every one lands, with positions handed out one after another."""

    async def race(database: Database) -> list[Any]:
        store = ConversationStore(database)
        conversation_id = new_id("conv")
        await store.create("", {"id": conversation_id, "created_at": 1, "metadata": {}}, [])

        async def save(n: int) -> Any:
            message = {"id": new_id("msg"), "type": "message", "role": "user", "content": []}
            response = {
                "id": new_id("resp"),
                "created_at": 1,
                "status": "completed",
                "model": "m",
                "output": [{**message, "id": new_id("msg"), "role": "assistant"}],
            }
            return await store.save_response("", conversation_id, response, [message])

        saved = await asyncio.gather(*(save(n) for n in range(20)))
        found = await store.items("", conversation_id)
        assert found is not None
        return [sorted(version for version, _ in saved), [len(turn) for turn in found.turns]]

    versions, turns = with_database(database_url, race, pool_size=8)
    assert versions == list(range(1, 21)) and turns == [2] * 20
