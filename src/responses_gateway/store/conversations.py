"""``ConversationStore``: the SQL of conversations and their items.

A conversation's items are rows in order. Items a response stored are referenced, not copied
(``response_id``, ``response_position``), so a conversation costs one small row per item beyond
what its responses store; items added through the items API hold their own data. Every change
bumps the conversation's ``version`` in the same transaction, with an UPDATE whose row lock
serialises concurrent appends (racing responses both land, one after the other, and positions
never collide); a cached history is confirmed by reading that version (one indexed lookup).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import orjson

from responses_gateway.store.database import Database, Query, SqliteDatabase
from responses_gateway.store.responses import (
    INSERT_ITEM,
    INSERT_RESPONSE,
    ITEMS_CTE,
    item_columns,
    response_rows,
)

if TYPE_CHECKING:
    import sqlite3  # imported by SqliteDatabase, only when the database is SQLite

Item = dict[str, Any]

_CREATE = Query(
    """
    INSERT INTO conversations (id, owner, created_at, metadata, next_position, version)
    VALUES (:id, :owner, :created_at, :metadata, 0, 0)
    """
)

_GET = Query("SELECT id, created_at, metadata FROM conversations WHERE id = :id AND owner = :owner")

_VERSION = Query("SELECT version FROM conversations WHERE id = :id AND owner = :owner")

_SET_METADATA = Query(
    "UPDATE conversations SET metadata = :metadata WHERE id = :id AND owner = :owner"
)

_DELETE = Query("DELETE FROM conversations WHERE id = :id AND owner = :owner")

# Hands out ``:count`` positions and bumps the version; no row (nothing to append to) if the
# conversation is gone or another key's. PostgreSQL's READ COMMITTED re-reads the row a
# concurrent append just committed, so the second append starts where the first ended.
_BUMP = Query(
    """
    UPDATE conversations SET next_position = next_position + :count, version = version + 1
    WHERE id = :conversation_id AND owner = :owner
    RETURNING next_position - :count, version
    """
)

_LINK_SQLITE = Query(
    """
    INSERT INTO conversation_items
        (conversation_id, position, item_id, response_id, response_position, data)
    VALUES (:conversation_id, :position, :item_id, :response_id, :response_position, :data)
    """
)

# The whole conversation, oldest first, in one query: the version, then each item with the
# response it came from (NULL for items added directly). One row with NULLs when it is empty.
_ITEMS = Query(
    """
    SELECT c.version, ci.response_id, COALESCE(ci.data, ri.data) FROM conversations c
    LEFT JOIN conversation_items ci ON ci.conversation_id = c.id
    LEFT JOIN response_items ri
        ON ri.response_id = ci.response_id AND ri.position = ci.response_position
    WHERE c.id = :id AND c.owner = :owner
    ORDER BY ci.position
    """
)

_ITEM = Query(
    """
    SELECT COALESCE(ci.data, ri.data) FROM conversations c
    LEFT JOIN conversation_items ci ON ci.conversation_id = c.id AND ci.item_id = :item_id
    LEFT JOIN response_items ri
        ON ri.response_id = ci.response_id AND ri.position = ci.response_position
    WHERE c.id = :id AND c.owner = :owner
    ORDER BY ci.position
    LIMIT 1
    """
)

_DELETE_ITEM = Query(
    """
    DELETE FROM conversation_items WHERE conversation_id = :conversation_id
        AND position = (SELECT position FROM conversation_items
                        WHERE conversation_id = :conversation_id AND item_id = :item_id
                        ORDER BY position LIMIT 1)
    """
)

# PostgreSQL appends in one statement (one round trip, atomic without BEGIN/COMMIT), as it saves
# responses; ``positions`` are offsets from the first position handed out.
_BUMP_CTE = """
    WITH conv AS (
        UPDATE conversations SET next_position = next_position + :count, version = version + 1
        WHERE id = :conversation_id::varchar AND owner = :owner::varchar
        RETURNING next_position - :count AS base, version
    )"""

_APPEND_POSTGRES = Query(
    f"""
    {_BUMP_CTE}, links AS (
        INSERT INTO conversation_items
            (conversation_id, position, item_id, response_id, response_position, data)
        SELECT :conversation_id, conv.base + item.position, item.item_id, NULL, NULL, item.data
        FROM conv, unnest(:positions::int[], :item_ids::text[], :datas::text[])
            AS item(position, item_id, data)
    )
    SELECT version FROM conv
    """
)

_SAVE_RESPONSE_POSTGRES = Query(
    f"""
    {_BUMP_CTE}, response AS (
        INSERT INTO responses
            (id, owner, previous_response_id, created_at, status, model, deleted, data, compacted)
        SELECT :id::varchar, :owner, NULL, :created_at::bigint, :status::varchar,
            :model::varchar, FALSE, :data::text, :compacted::boolean
        FROM conv
        RETURNING id
    ), {ITEMS_CTE}, links AS (
        INSERT INTO conversation_items
            (conversation_id, position, item_id, response_id, response_position, data)
        SELECT :conversation_id, conv.base + item.position, item.item_id, response.id,
            item.position, NULL
        FROM conv, response, unnest(:positions::int[], :item_ids::text[])
            AS item(position, item_id)
    )
    SELECT version FROM conv
    """
)


@lru_cache(maxsize=4)
def _page(order: str, after: bool) -> Query:
    """A page of items, ``limit`` + 1 rows to tell whether more follow; one row with a NULL
    item when the conversation exists but the page is empty, none when it does not."""
    direction, before_or_after = ("ASC", ">") if order == "asc" else ("DESC", "<")
    anchor = (
        f"""AND ci.position {before_or_after} (
            SELECT position FROM conversation_items
            WHERE conversation_id = :id AND item_id = :after ORDER BY position LIMIT 1)"""
        if after
        else ""
    )
    return Query(
        f"""
        SELECT COALESCE(ci.data, ri.data) FROM conversations c
        LEFT JOIN conversation_items ci ON ci.conversation_id = c.id {anchor}
        LEFT JOIN response_items ri
            ON ri.response_id = ci.response_id AND ri.position = ci.response_position
        WHERE c.id = :id AND c.owner = :owner
        ORDER BY ci.position {direction}
        LIMIT :limit
        """
    )


@dataclass
class StoredConversation:
    """A conversation's items as turns (a response's items, or a batch added directly), the
    version they were read at, and their size in bytes as stored."""

    version: int
    turns: list[list[Item]]
    size: int


def conversation_object(row: Any) -> dict[str, Any]:
    return {
        "id": row[0],
        "object": "conversation",
        "created_at": row[1],
        "metadata": orjson.loads(row[2]),
    }


class ConversationStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def create(self, owner: str, conversation: dict[str, Any], items: list[Item]) -> None:
        """A new conversation and its first items, in one transaction."""
        row = {
            "id": conversation["id"],
            "owner": owner,
            "created_at": conversation["created_at"],
            "metadata": orjson.dumps(conversation["metadata"]).decode(),
        }
        if isinstance(self._db, SqliteDatabase):

            def work(connection: sqlite3.Connection) -> None:
                connection.execute(_CREATE.sql, row)
                if items:
                    _append_sqlite(connection, owner, conversation["id"], items)

            await self._db.transaction(work)
            return
        await self._db.execute(_CREATE, row)
        if items:  # the conversation is not yet known to anyone: two statements are atomic enough
            await self.append(owner, conversation["id"], items)

    async def get(self, owner: str, conversation_id: str) -> dict[str, Any] | None:
        rows = await self._db.fetch(_GET, {"id": conversation_id, "owner": owner})
        return conversation_object(rows[0]) if rows else None

    async def set_metadata(
        self, owner: str, conversation_id: str, metadata: dict[str, str]
    ) -> bool:
        params = {
            "id": conversation_id,
            "owner": owner,
            "metadata": orjson.dumps(metadata).decode(),
        }
        return await self._db.execute(_SET_METADATA, params) > 0

    async def delete(self, owner: str, conversation_id: str) -> bool:
        """Deletes the conversation and its item rows; the responses keep their own items."""
        return await self._db.execute(_DELETE, {"id": conversation_id, "owner": owner}) > 0

    async def version(self, owner: str, conversation_id: str) -> int | None:
        rows = await self._db.fetch(_VERSION, {"id": conversation_id, "owner": owner})
        return int(rows[0][0]) if rows else None

    async def items(self, owner: str, conversation_id: str) -> StoredConversation | None:
        """Every item, oldest first, grouped by the response (or batch) they came from."""
        rows = await self._db.fetch(_ITEMS, {"id": conversation_id, "owner": owner})
        if not rows:
            return None
        turns: list[list[Item]] = []
        source: object = object()
        size = 0
        for _, response_id, data in rows:
            if data is None:
                continue
            if response_id != source:  # a new turn: another response, or a batch added directly
                source = response_id
                turns.append([])
            turns[-1].append(orjson.loads(data))
            size += len(data)
        return StoredConversation(int(rows[0][0]), turns, size)

    async def append(self, owner: str, conversation_id: str, items: list[Item]) -> int | None:
        """Items added directly, at the end; the new version, or None if not found."""
        if isinstance(self._db, SqliteDatabase):

            def work(connection: sqlite3.Connection) -> int | None:
                return _append_sqlite(connection, owner, conversation_id, items)

            return await self._db.transaction(work)
        params = {
            "conversation_id": conversation_id,
            "owner": owner,
            "count": len(items),
            "positions": list(range(len(items))),
            "item_ids": [item["id"] for item in items],
            "datas": [orjson.dumps(item).decode() for item in items],
        }
        rows = await self._db.fetch(_APPEND_POSTGRES, params)
        return int(rows[0][0]) if rows else None

    async def save_response(
        self,
        owner: str,
        conversation_id: str,
        response: dict[str, Any],
        input_items: list[Item],
    ) -> tuple[int, int] | None:
        """Store a finished response and append its input and output to the conversation, in
        one transaction; the conversation's new version and the items' size in bytes, or None
        (nothing written) if the conversation is gone."""
        row, rows = response_rows(owner, response, input_items)
        size = sum(len(item["data"]) for item in rows)
        bump = {"conversation_id": conversation_id, "owner": owner, "count": len(rows)}
        if isinstance(self._db, SqliteDatabase):

            def work(connection: sqlite3.Connection) -> int | None:
                found = connection.execute(_BUMP.sql, bump).fetchone()
                if found is None:
                    return None
                base, version = found
                connection.execute(INSERT_RESPONSE.sql, row)
                connection.executemany(INSERT_ITEM.sql, rows)
                connection.executemany(
                    _LINK_SQLITE.sql,
                    [_link(conversation_id, base, item) for item in rows],
                )
                return int(version)

            version = await self._db.transaction(work)
        else:
            found = await self._db.fetch(_SAVE_RESPONSE_POSTGRES, row | bump | item_columns(rows))
            version = int(found[0][0]) if found else None
        return None if version is None else (version, size)

    async def item(self, owner: str, conversation_id: str, item_id: str) -> Item | None | bool:
        """The item; False if the conversation is not found, None if the item is not."""
        rows = await self._db.fetch(
            _ITEM, {"id": conversation_id, "owner": owner, "item_id": item_id}
        )
        if not rows:
            return False
        return None if rows[0][0] is None else orjson.loads(rows[0][0])

    async def delete_item(self, owner: str, conversation_id: str, item_id: str) -> bool:
        """Removes the item from the conversation (its response keeps it); whether it was there."""
        params = {"conversation_id": conversation_id, "owner": owner, "item_id": item_id}
        if isinstance(self._db, SqliteDatabase):

            def work(connection: sqlite3.Connection) -> bool:
                if connection.execute(_BUMP.sql, params | {"count": 0}).fetchone() is None:
                    return False  # not this owner's conversation
                return connection.execute(_DELETE_ITEM.sql, params).rowcount > 0

            return await self._db.transaction(work)
        deleted = await self._db.execute(_DELETE_ITEM_POSTGRES, params)
        return deleted > 0

    async def page(
        self, owner: str, conversation_id: str, *, after: str | None, limit: int, order: str
    ) -> tuple[list[Item], bool] | None:
        params = {"id": conversation_id, "owner": owner, "after": after, "limit": limit + 1}
        rows = await self._db.fetch(_page(order, after is not None), params)
        if not rows:
            return None
        found = [data for (data,) in rows if data is not None]
        return [orjson.loads(data) for data in found[:limit]], len(found) > limit


_DELETE_ITEM_POSTGRES = Query(
    """
    WITH conv AS (
        UPDATE conversations SET version = version + 1
        WHERE id = :conversation_id::varchar AND owner = :owner::varchar
        RETURNING id
    )
    DELETE FROM conversation_items WHERE conversation_id = (SELECT id FROM conv)
        AND position = (SELECT position FROM conversation_items
                        WHERE conversation_id = :conversation_id AND item_id = :item_id::varchar
                        ORDER BY position LIMIT 1)
    """
)


def _link(conversation_id: str, base: int, item: dict[str, Any]) -> dict[str, Any]:
    return {
        "conversation_id": conversation_id,
        "position": base + item["position"],
        "item_id": item["item_id"],
        "response_id": item["response_id"],
        "response_position": item["position"],
        "data": None,
    }


def _append_sqlite(
    connection: sqlite3.Connection, owner: str, conversation_id: str, items: list[Item]
) -> int | None:
    bump = {"conversation_id": conversation_id, "owner": owner, "count": len(items)}
    found = connection.execute(_BUMP.sql, bump).fetchone()
    if found is None:
        return None
    base, version = found
    rows = [
        {
            "conversation_id": conversation_id,
            "position": base + offset,
            "item_id": item["id"],
            "response_id": None,
            "response_position": None,
            "data": orjson.dumps(item).decode(),
        }
        for offset, item in enumerate(items)
    ]
    connection.executemany(_LINK_SQLITE.sql, rows)
    return int(version)
