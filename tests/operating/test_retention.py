"""Retention on both databases: what no kept response needs is removed for good, chains that
are still in use keep their whole history, and a purged response is gone from every route."""

from __future__ import annotations

import time
from collections.abc import Iterator

import openai
import pytest

from responses_gateway.app import create_app
from responses_gateway.store.database import Query
from tests.conftest import Gateway, custom_gateway, fresh_database, gateway_settings
from tests.support.database import read_database, with_database
from tests.support.process import cli
from tests.support.serving import serve_in_thread
from tests.support.upstream import ScriptedUpstream

DAY = 86400


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database of this module's own: a purge counts every old row, other tests' too."""
    with fresh_database(request.param, tmp_path_factory.mktemp("db"), "gateway_retention") as url:
        yield url


@pytest.fixture(scope="module")
def gateway(database_url: str, upstream_server: ScriptedUpstream) -> Iterator[Gateway]:
    with custom_gateway(database_url, upstream_server.base_url) as running:
        yield running


def _age(url: str, row_id: str, days: float, table: str = "responses") -> None:
    """Make a response (or a conversation) ``days`` old."""
    when = int(time.time() - days * DAY)
    statement = Query(f"UPDATE {table} SET created_at = :t WHERE id = :id")
    with_database(url, lambda db: db.execute(statement, {"t": when, "id": row_id}))


def _exists(url: str, response_id: str) -> bool:
    return bool(read_database(url, "SELECT 1 FROM responses WHERE id = :id", id=response_id))


def _items(url: str, response_id: str) -> int:
    rows = read_database(
        url, "SELECT count(*) FROM response_items WHERE response_id = :id", id=response_id
    )
    return int(rows[0][0])


def _purge(url: str, *args: str) -> str:
    result = cli("purge", *args, env={"GATEWAY_DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _chain(client: openai.OpenAI, turns: int) -> list[str]:
    ids: list[str] = []
    for turn in range(turns):
        previous = ids[-1] if ids else None
        ids.append(
            client.responses.create(model="m", input=f"t{turn}", previous_response_id=previous).id
        )
    return ids


def test_old_chains_go_young_chains_keep_their_history(
    gateway: Gateway, client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    url = gateway.settings.database_url
    old_chain = _chain(client, 2)
    used_chain = _chain(client, 3)
    for response_id in [*old_chain, *used_chain[:2]]:
        _age(url, response_id, 40)
    assert (
        _purge(url, "--older-than", "30d", "--dry-run")
        == "would remove 2 response(s), 0 conversation(s)"
    )
    assert all(_exists(url, rid) for rid in old_chain)
    assert _purge(url, "--older-than", "30d") == "removed 2 response(s), 0 conversation(s)"
    assert not any(_exists(url, rid) for rid in old_chain)
    assert all(_items(url, rid) == 0 for rid in old_chain)
    # The old turns of a chain whose newest turn is young are needed: kept, history whole.
    assert all(_exists(url, rid) for rid in used_chain)
    again = client.responses.create(model="m", input="next", previous_response_id=used_chain[-1])
    assert again.status == "completed"
    sent = [m["content"] for m in upstream.last["messages"] if m["role"] == "user"]
    assert sent == ["t0", "t1", "t2", "next"]
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(old_chain[-1])
    with pytest.raises(openai.BadRequestError, match="previous_response_not_found|not found"):
        client.responses.create(model="m", input="x", previous_response_id=old_chain[-1])


def test_tombstones_no_one_needs_are_removed_without_retention(
    gateway: Gateway, client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    url = gateway.settings.database_url
    first, second = _chain(client, 2)
    leaf = client.responses.create(model="m", input="alone").id
    client.responses.delete(first)  # a tombstone its descendant needs
    client.responses.delete(leaf)  # a tombstone no one needs
    _purge(url)
    assert not _exists(url, leaf)
    assert _exists(url, first) and _exists(url, second)
    client.responses.delete(second)
    _purge(url)
    assert not _exists(url, first) and not _exists(url, second)


def test_the_background_purge_runs_by_itself(database_url: str, upstream: ScriptedUpstream) -> None:
    settings = gateway_settings(
        database_url, upstream.base_url, retention_days=30, retention_interval=0.1
    )
    with serve_in_thread(create_app(settings)) as url:
        client = Gateway(url, settings).client()
        old = client.responses.create(model="m", input="old").id
        _age(database_url, old, 31)
        deadline = time.monotonic() + 10
        while _exists(database_url, old):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        young = client.responses.create(model="m", input="young").id
        time.sleep(0.3)
        assert _exists(database_url, young)


def test_conversations_keep_their_responses_and_go_when_old(
    gateway: Gateway, client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    url = gateway.settings.database_url
    conversation = client.conversations.create()
    turn = client.responses.create(
        model="m", input="in a conversation", conversation=conversation.id
    )
    _age(url, turn.id, 40)
    # The response is old, but the young conversation refers to its items: it stays.
    _purge(url, "--older-than", "30d")
    assert _exists(url, turn.id)
    items = client.conversations.items.list(conversation.id)
    assert len(items.data) == 2
    # Once the conversation is old too, both go.
    _age(url, conversation.id, 40, table="conversations")
    assert _purge(url, "--older-than", "30d", "--dry-run").endswith("1 conversation(s)")
    assert _purge(url, "--older-than", "30d").endswith("1 conversation(s)")
    assert not _exists(url, turn.id)
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(conversation.id)
