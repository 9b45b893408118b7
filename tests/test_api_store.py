"""Retrieve, delete, input items, ownership, pass-through routes, health, and how the store grows."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import httpx
import openai
import pytest
from openai.types.responses import (
    ResponseInputMessageItem,
    ResponseInputParam,
    ResponseInputText,
    ResponseItem,
    ResponseOutputMessage,
)

from responses_gateway.app import create_app
from responses_gateway.store.database import Database
from responses_gateway.store.migrations import migrate
from responses_gateway.store.responses import ResponseStore
from tests.conftest import Gateway, gateway_settings, pg_admin, scratch_postgres
from tests.support.database import read_database, with_database
from tests.support.sdk_streams import narrowed, output_item
from tests.support.serving import serve_in_thread
from tests.support.upstream import Reply, ScriptedUpstream


def _first_text(item: ResponseItem) -> str:
    return narrowed(narrowed(item, ResponseInputMessageItem).content[0], ResponseInputText).text


def test_retrieve_and_delete(client: openai.OpenAI, gateway: Gateway) -> None:
    created = client.responses.create(model="m", input="keep me", metadata={"k": "v"})
    got = client.responses.retrieve(created.id, include=["message.input_image.image_url"])
    assert got.model_dump() == created.model_dump()
    answer = httpx.delete(f"{gateway.base_url}/responses/{created.id}")
    assert answer.json() == {"id": created.id, "object": "response", "deleted": True}
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(created.id)
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="m", input="x", previous_response_id=created.id)
    assert caught.value.code == "previous_response_not_found"
    missing = httpx.get(f"{gateway.base_url}/responses/resp_unknown")
    assert missing.status_code == 404
    assert set(missing.json()["error"]) == {"message", "type", "param", "code"}


def test_deleting_a_middle_turn_keeps_descendants_whole(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    first = client.responses.create(model="m", input="one")
    second = client.responses.create(model="m", input="two", previous_response_id=first.id)
    client.responses.delete(first.id)
    client.responses.create(model="m", input="three", previous_response_id=second.id)
    assert [m["content"] for m in upstream.last["messages"] if m["role"] == "user"] == [
        "one",
        "two",
        "three",
    ]


def test_cancel_is_refused_for_finished_responses(client: openai.OpenAI) -> None:
    created = client.responses.create(model="m", input="done already")
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.cancel(created.id)
    assert caught.value.code == "response_not_cancellable"
    assert caught.value.param == "response_id"
    with pytest.raises(openai.NotFoundError):
        client.responses.cancel("resp_missing")
    assert client.responses.retrieve(created.id).status == "completed"


def test_input_items_pagination(client: openai.OpenAI, gateway: Gateway) -> None:
    items: ResponseInputParam = [{"role": "user", "content": f"message {n}"} for n in range(5)]
    created = client.responses.create(model="m", input=items)
    page = client.responses.input_items.list(created.id)
    texts = [_first_text(item) for item in page.data]
    assert texts == [f"message {n}" for n in reversed(range(5))]  # newest first by default
    assert page.has_more is False
    first_two = client.responses.input_items.list(created.id, limit=2, order="asc")
    assert [_first_text(i) for i in first_two.data] == ["message 0", "message 1"]
    assert first_two.has_more is True
    everything = list(client.responses.input_items.list(created.id, limit=2, order="asc"))
    assert [_first_text(i) for i in everything] == [f"message {n}" for n in range(5)]
    last_id = first_two.to_dict()["last_id"]  # the SDK's page type has no last_id field
    assert last_id == first_two.data[-1].id
    raw = httpx.get(
        f"{gateway.base_url}/responses/{created.id}/input_items",
        params={"limit": 2, "after": last_id, "order": "asc"},
    ).json()
    assert raw["object"] == "list" and raw["first_id"] == raw["data"][0]["id"]
    assert [d["content"][0]["text"] for d in raw["data"]] == ["message 2", "message 3"]
    for bad in ({"limit": 0}, {"limit": 101}, {"order": "sideways"}):
        answer = httpx.get(f"{gateway.base_url}/responses/{created.id}/input_items", params=bad)
        assert answer.status_code == 400
        assert answer.json()["error"]["type"] == "invalid_request_error"
    with pytest.raises(openai.NotFoundError):
        client.responses.input_items.list("resp_missing")


def test_foreground_responses_are_not_resumable(client: openai.OpenAI, gateway: Gateway) -> None:
    created = client.responses.create(model="m", input="x")
    answer = httpx.get(f"{gateway.base_url}/responses/{created.id}", params={"stream": "true"})
    assert answer.status_code == 404 and answer.json()["error"]["param"] == "stream"


def test_unknown_route_is_an_envelope(gateway: Gateway) -> None:
    answer = httpx.get(gateway.url + "/v2/nothing")
    assert answer.status_code == 404
    assert answer.json()["error"]["type"] == "invalid_request_error"


def test_pass_through_routes(gateway: Gateway, upstream: ScriptedUpstream) -> None:
    models = gateway.client().models.list()
    assert [m.id for m in models.data] == ["scripted"]
    upstream.push(Reply(content="chatting"))
    chat = gateway.client().chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}]
    )
    assert chat.choices[0].message.content == "chatting"
    upstream.push(Reply(content="streamed chat"))
    stream = gateway.client().chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "streamed chat"
    assert upstream.headers[-1]["authorization"] == "Bearer sk-upstream-secret"


def test_health(gateway: Gateway) -> None:
    assert httpx.get(gateway.url + "/healthz").json() == {"status": "ok"}
    assert httpx.get(gateway.url + "/readyz").json() == {"status": "ready"}


def test_database_outage_is_a_503_and_the_gateway_recovers(
    upstream: ScriptedUpstream,
) -> None:
    """PostgreSQL going away (here: its database dropped, connections killed) is a retryable
    503 on every route that needs it, and the same process serves again once it is back."""
    with scratch_postgres("gateway_outage") as url:
        migrate(url)
        settings = gateway_settings(url, upstream.base_url)
        with serve_in_thread(create_app(settings)) as base:
            client = Gateway(base, settings).client()
            kept = client.responses.create(model="m", input="before")
            name = url.rsplit("/", 1)[1]
            asyncio.run(pg_admin(f'DROP DATABASE "{name}" WITH (FORCE)'))
            calls: tuple[Callable[[], object], ...] = (
                lambda: client.responses.retrieve(kept.id),
                lambda: client.responses.create(model="m", input="during"),
                lambda: client.responses.create(model="m", input="x", previous_response_id=kept.id),
            )
            for call in calls:
                with pytest.raises(openai.InternalServerError) as caught:
                    call()
                assert caught.value.status_code == 503
                assert caught.value.code == "store_unavailable"
            assert httpx.get(base + "/readyz").status_code == 503
            asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
            migrate(url)
            assert httpx.get(base + "/readyz").status_code == 200
            after = client.responses.create(model="m", input="after")
            assert client.responses.retrieve(after.id).id == after.id


@pytest.fixture(scope="module")
def authed(database_url: str, upstream_server: ScriptedUpstream) -> Iterator[Gateway]:
    settings = gateway_settings(database_url, upstream_server.base_url, api_keys="key-a, key-b")
    with serve_in_thread(create_app(settings)) as url:
        yield Gateway(url, settings)


def test_api_keys_and_ownership(authed: Gateway, upstream: ScriptedUpstream) -> None:
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "Basic key-a"}):
        answer = httpx.post(
            authed.base_url + "/responses", json={"model": "m", "input": "x"}, headers=headers
        )
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        authed.client("wrong").models.list()
    alice, bob = authed.client("key-a"), authed.client("key-b")
    mine = alice.responses.create(model="m", input="alice's")
    message = output_item(mine, 0, ResponseOutputMessage)
    assert alice.responses.retrieve(mine.id).id == mine.id
    with pytest.raises(openai.NotFoundError):
        bob.responses.retrieve(mine.id)
    with pytest.raises(openai.NotFoundError):
        bob.responses.delete(mine.id)
    with pytest.raises(openai.NotFoundError):
        bob.responses.input_items.list(mine.id)
    with pytest.raises(openai.BadRequestError) as caught:
        bob.responses.create(model="m", input="x", previous_response_id=mine.id)
    assert caught.value.code == "previous_response_not_found"
    with pytest.raises(openai.BadRequestError):
        bob.responses.create(model="m", input=[{"type": "item_reference", "id": message.id}])
    alice.responses.retrieve(mine.id)  # still there after bob's attempts
    assert "key-a" not in str(upstream.headers) and "key-b" not in str(upstream.headers)


def test_chains_grow_linearly_and_load_in_one_query(
    client: openai.OpenAI, upstream: ScriptedUpstream, database_url: str
) -> None:
    previous = None
    for turn in range(12):
        previous = client.responses.create(
            model="m", input=f"turn {turn}", previous_response_id=previous.id if previous else None
        )
    assert previous is not None
    last_id = previous.id
    assert len(upstream.last["messages"]) == 23

    async def history(database: Database) -> tuple[list[int], int]:
        before = database.statements
        found = await ResponseStore(database).history("", last_id)
        assert found is not None
        return [len(turn) for turn in found[0]], database.statements - before

    assert with_database(database_url, history) == ([2] * 12, 1)  # 12 turns, one statement
    count = "SELECT count(*) FROM response_items"
    [(total,)] = read_database(database_url, count)
    [(own,)] = read_database(database_url, count + " WHERE response_id = :id", id=last_id)
    assert own == 2  # the last turn stores its own input and output only, never the history
    assert total >= 24
