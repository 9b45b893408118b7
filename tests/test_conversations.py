"""The Conversations API through the official SDK: conversations, their items, pagination,
ownership and the error envelope, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import httpx
import openai
import pytest
from openai.types.conversations import ConversationItem, Message
from openai.types.responses import ResponseInputText, ResponseOutputText

from responses_gateway.app import create_app
from tests.conftest import Gateway, gateway_settings
from tests.support.sdk_streams import error_param, narrowed
from tests.support.serving import serve_in_thread
from tests.support.upstream import ScriptedUpstream


def _texts(items: Sequence[ConversationItem]) -> list[str]:
    texts = []
    for item in items:
        for part in narrowed(item, Message).content:
            assert isinstance(part, ResponseInputText | ResponseOutputText), part
            texts.append(part.text)
    return texts


def test_create_retrieve_update_delete(client: openai.OpenAI) -> None:
    created = client.conversations.create(
        metadata={"topic": "demo"},
        items=[{"type": "message", "role": "user", "content": "Hello!"}],
    )
    assert created.id.startswith("conv_") and created.object == "conversation"
    assert created.metadata == {"topic": "demo"}
    assert client.conversations.retrieve(created.id).model_dump() == created.model_dump()
    updated = client.conversations.update(created.id, metadata={"topic": "other"})
    assert updated.metadata == {"topic": "other"} and updated.created_at == created.created_at
    items = client.conversations.items.list(created.id)
    assert [item.type for item in items.data] == ["message"]
    assert _texts(items.data) == ["Hello!"]
    deleted = client.conversations.delete(created.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (
        created.id,
        "conversation.deleted",
        True,
    )
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.list(created.id)


def test_items_create_list_page_retrieve_delete(client: openai.OpenAI) -> None:
    conversation = client.conversations.create()
    added = client.conversations.items.create(
        conversation.id,
        items=[{"type": "message", "role": "user", "content": f"m{n}"} for n in range(5)],
        include=["message.input_image.image_url"],
    )
    ids = [narrowed(item, Message).id for item in added.data]
    assert len(ids) == 5 and added.first_id == ids[0] and added.last_id == ids[-1]
    newest_first = client.conversations.items.list(conversation.id, limit=2)
    assert [item.id for item in newest_first.data] == ids[:-3:-1] and newest_first.has_more
    everything = client.conversations.items.list(conversation.id, order="asc", limit=2)
    assert [item.id for item in everything] == ids  # the SDK pages with after=last_id
    page = client.conversations.items.list(conversation.id, order="asc", after=ids[3])
    assert [item.id for item in page.data] == [ids[4]] and not page.has_more
    item = client.conversations.items.retrieve(ids[2], conversation_id=conversation.id)
    assert _texts([item]) == ["m2"]
    after_delete = client.conversations.items.delete(ids[2], conversation_id=conversation.id)
    assert after_delete.id == conversation.id and after_delete.object == "conversation"
    remaining = client.conversations.items.list(conversation.id, order="asc")
    assert _texts(remaining.data) == ["m0", "m1", "m3", "m4"]
    with pytest.raises(openai.NotFoundError) as caught:
        client.conversations.items.retrieve(ids[2], conversation_id=conversation.id)
    assert error_param(caught.value) == "item_id"
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.delete(ids[2], conversation_id=conversation.id)


def test_items_are_checked(client: openai.OpenAI, gateway: Gateway) -> None:
    conversation = client.conversations.create()
    url = f"{gateway.base_url}/conversations/{conversation.id}/items"
    message = {"type": "message", "role": "user", "content": "x"}
    for body, param in [
        ({"items": [message] * 21}, "items"),
        ({"items": []}, "items"),
        ({}, "items"),
        ({"items": [{"type": "item_reference", "id": "msg_1"}]}, "items[0]"),
        ({"items": [{"type": "no_such_item"}]}, "items[0].type"),
    ]:
        answer = httpx.post(url, json=body)
        assert answer.status_code == 400, body
        assert answer.json()["error"]["param"] == param
    # A huge list is refused on the parsed JSON with the answer pydantic gives a short one.
    for count in (21, 200_000):
        too_many = httpx.post(
            f"{gateway.base_url}/conversations", json={"items": [message] * count}
        )
        error = too_many.json()["error"]
        assert too_many.status_code == 400 and error["param"] == "items"
        assert error["message"] == (
            "Invalid value for 'items': List should have at most 20 items after validation,"
            f" not {count}."
        )
    bad_metadata = httpx.post(
        f"{gateway.base_url}/conversations/{conversation.id}", json={"metadata": {"k": "v" * 513}}
    )
    assert bad_metadata.status_code == 400 and bad_metadata.json()["error"]["param"] == "metadata"


def test_unknown_conversations_are_404_envelopes(gateway: Gateway) -> None:
    base = f"{gateway.base_url}/conversations/conv_unknown"
    for method, url in [
        ("GET", base),
        ("POST", base),
        ("DELETE", base),
        ("GET", base + "/items"),
        ("POST", base + "/items"),
        ("GET", base + "/items/msg_1"),
        ("DELETE", base + "/items/msg_1"),
    ]:
        body: dict[str, object] | None = (
            {"metadata": {}} if url == base and method == "POST" else None
        )
        if url.endswith("/items") and method == "POST":
            body = {"items": [{"role": "user", "content": "x"}]}
        answer = httpx.request(method, url, json=body)
        assert answer.status_code == 404, (method, url)
        error = answer.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert "conv_unknown" in error["message"]


@pytest.fixture(scope="module")
def authed(database_url: str, upstream_server: ScriptedUpstream) -> Iterator[Gateway]:
    settings = gateway_settings(database_url, upstream_server.base_url, api_keys="key-a, key-b")
    with serve_in_thread(create_app(settings)) as url:
        yield Gateway(url, settings)


def test_conversations_belong_to_their_key(authed: Gateway, upstream: ScriptedUpstream) -> None:
    alice, bob = authed.client("key-a"), authed.client("key-b")
    mine = alice.conversations.create(items=[{"role": "user", "content": "secret"}])
    item = narrowed(alice.conversations.items.list(mine.id).data[0], Message)
    for attempt in (
        lambda: bob.conversations.retrieve(mine.id),
        lambda: bob.conversations.update(mine.id, metadata={}),
        lambda: bob.conversations.items.list(mine.id),
        lambda: bob.conversations.items.retrieve(item.id, conversation_id=mine.id),
        lambda: bob.conversations.items.delete(item.id, conversation_id=mine.id),
        lambda: bob.conversations.items.create(mine.id, items=[{"role": "user", "content": "x"}]),
        lambda: bob.conversations.delete(mine.id),
        lambda: bob.responses.create(model="m", input="x", conversation=mine.id),
    ):
        with pytest.raises(openai.NotFoundError):
            attempt()
    assert _texts(alice.conversations.items.list(mine.id).data) == ["secret"]
