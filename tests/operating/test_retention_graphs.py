"""Retention's SQL against its definition, on random histories, on both databases: a response is
needed while it is live and young, or a conversation refers to it, and so is every ancestor of a
needed one; whatever else is deleted or old is what the purge counts and removes."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from responses_gateway.store.database import Database, PostgresDatabase, Query
from responses_gateway.store.retention import RetentionStore
from tests.conftest import fresh_database
from tests.support.database import with_database

CUTOFF = 1_000_000
_INSERT = Query(
    "INSERT INTO responses (id, owner, previous_response_id, created_at, status, model,"
    " deleted, data) VALUES (:id, 'o', :prev, :at, 'completed', 'm', :deleted, '{}')"
)
_CONVERSATION = Query(
    "INSERT INTO conversations (id, owner, created_at, metadata, next_position, version)"
    " VALUES ('conv_1', 'o', 0, '{}', 0, 0)"
)
_REFERENCE = Query(
    "INSERT INTO conversation_items (conversation_id, position, item_id, response_id)"
    " VALUES ('conv_1', :position, :item, :id)"
)


@dataclass(frozen=True)
class Response:
    id: str
    prev: str | None
    young: bool
    deleted: bool


def _history(rng: random.Random, size: int) -> tuple[list[Response], set[str]]:
    """Chains and branches (a parent is any earlier response, or none), random ages and
    tombstones, and the responses a conversation refers to."""
    responses: list[Response] = []
    for n in range(size):
        prev = rng.choice(responses).id if responses and rng.random() < 0.7 else None
        young, deleted = rng.random() < 0.4, rng.random() < 0.25
        responses.append(Response(f"resp_{n}", prev, young, deleted))
    referenced = {r.id for r in responses if rng.random() < 0.05}
    return responses, referenced


def _unneeded(responses: list[Response], referenced: set[str]) -> set[str]:
    parent = {r.id: r.prev for r in responses}
    needed: set[str] = set()
    for start in [r.id for r in responses if r.young and not r.deleted] + sorted(referenced):
        walk: str | None = start
        while walk is not None and walk not in needed:
            needed.add(walk)
            walk = parent[walk]
    return {r.id for r in responses if (r.deleted or not r.young) and r.id not in needed}


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path, "retention_graphs") as url:
        yield url


def test_the_purge_removes_exactly_what_no_one_needs(database_url: str) -> None:
    rng = random.Random(20261201)

    async def check(database: Database) -> None:
        store = RetentionStore(database)
        for _ in range(25):
            responses, referenced = _history(rng, rng.randrange(1, 60))
            expected = _unneeded(responses, referenced)
            for table in ("conversation_items", "conversations", "responses"):
                await database.execute(Query(f"DELETE FROM {table}"), {})
            await database.execute(_CONVERSATION, {})
            for r in responses:
                at = CUTOFF + 1 if r.young else CUTOFF - 1
                params = {"id": r.id, "prev": r.prev, "at": at, "deleted": r.deleted}
                await database.execute(_INSERT, params)
            for position, response_id in enumerate(sorted(referenced)):
                item = {"position": position, "item": f"msg_{position}", "id": response_id}
                await database.execute(_REFERENCE, item)
            assert await store.count_unneeded(CUTOFF) == len(expected)
            store.batch = rng.choice([1, 4, 5000])  # many batches, or one
            assert await store.purge(CUTOFF) == len(expected)
            rows = await database.fetch(Query("SELECT id FROM responses"), {})
            assert {row[0] for row in rows} == {r.id for r in responses} - expected

    with_database(database_url, check)


def test_retention_statements_may_use_hash_joins_on_postgres(tmp_path: Path) -> None:
    """The gateway's sessions turn hash and merge joins off (its statements are lookups by key);
    retention's read whole tables, and without them a purge matched its candidates against the
    kept set row by row (``bench/purge.py``: a count of 50,000 among 450,000 took 94 s)."""
    setting = Query(
        "SELECT current_setting('enable_hashjoin'), current_setting('enable_mergejoin')"
    )

    async def settings(database: Database) -> tuple[list[str], list[str]]:
        assert isinstance(database, PostgresDatabase)
        session = await database.fetch(setting, {})
        scanning = await database.scanning(setting, {})
        return list(session[0]), list(scanning[0])

    with fresh_database("postgres", tmp_path, "retention_scanning") as url:
        session, scanning = with_database(url, settings)
    assert session == ["off", "off"] and scanning == ["on", "on"]
