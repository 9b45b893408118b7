"""``ResponseStore``: every SQL statement the gateway runs, each call one short transaction.

No transaction is held across an upstream or MCP await: the service loads history before the run
and saves the finished response after it, atomically (the row and its items, or nothing), so a
stored response is never half-written. Each read is one statement (one round trip). The SQL is
the same on SQLite and PostgreSQL except for the save: on PostgreSQL one statement, shared by
every save waiting (``postgres_saves.py``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson

from responses_gateway.store.database import Database, Query, SqliteDatabase
from responses_gateway.store.postgres_saves import PostgresSaves, entry

# The chain from the newest response back to the first (or to the newest turn that holds a
# compaction: nothing before it is sent), then every item of it, oldest first. Deleted
# ancestors still count (tombstones): only the response chained from must be live.
_HISTORY = Query(
    """
    WITH RECURSIVE chain(id, prev, depth, compacted) AS (
        SELECT id, previous_response_id, 0, compacted FROM responses
        WHERE id = :id AND owner = :owner AND NOT deleted
        UNION ALL
        SELECT r.id, r.previous_response_id, chain.depth + 1, r.compacted
        FROM responses r JOIN chain ON r.id = chain.prev
        WHERE NOT chain.compacted
    )
    SELECT chain.depth, i.data FROM chain
    LEFT JOIN response_items i ON i.response_id = chain.id
    ORDER BY chain.depth DESC, i.position
    """
)

_IS_LIVE = Query("SELECT 1 FROM responses WHERE id = :id AND owner = :owner AND NOT deleted")

# The response row and its output items; one row with a NULL item when it has no output.
_GET = Query(
    """
    SELECT r.data, i.data FROM responses r
    LEFT JOIN response_items i ON i.response_id = r.id AND i.kind = 'output'
    WHERE r.id = :id AND r.owner = :owner AND NOT r.deleted
    ORDER BY i.position
    """
)

# A response is written only if the one it continues is still live when ``:check_previous`` is
# set: a chained create that used a cached history confirms it here, in the same statement,
# instead of with a lookup of its own (see ResponsesService.prepare).
_PREVIOUS_IS_LIVE = """(NOT :check_previous OR EXISTS (
        SELECT 1 FROM responses p
        WHERE p.id = :previous_response_id AND p.owner = :owner AND NOT p.deleted))"""

INSERT_RESPONSE = Query(
    f"""
    INSERT INTO responses
        (id, owner, previous_response_id, created_at, status, model, deleted, data, compacted)
    SELECT :id, :owner, :previous_response_id, :created_at, :status, :model, FALSE, :data,
        :compacted
    WHERE {_PREVIOUS_IS_LIVE}
    """
)

INSERT_ITEM = Query(
    """
    INSERT INTO response_items (response_id, position, kind, item_id, data)
    SELECT :response_id, :position, :kind, :item_id, :data
    WHERE EXISTS (SELECT 1 FROM responses WHERE id = :response_id)
    """
)

# The items of the response a PostgreSQL statement inserted (its CTE ``response``): a
# conversation's save (``conversations.py``).
ITEMS_CTE = """items AS (
        INSERT INTO response_items (response_id, position, kind, item_id, data)
        SELECT response.id, item.position, item.kind, item.item_id, item.data
        FROM response, unnest(:positions::int[], :kinds::text[], :item_ids::text[], :datas::text[])
            AS item(position, kind, item_id, data)
    )"""

_DELETE = Query(
    "UPDATE responses SET deleted = TRUE WHERE id = :id AND owner = :owner AND NOT deleted"
)

_PING = Query("SELECT 1")


_FIND_BATCH = 1000


@lru_cache(maxsize=64)
def _find_items(count: int) -> Query:
    """Items by id among an owner's live responses, for ``count`` ids."""
    ids = ", ".join(f":id{n}" for n in range(count))
    return Query(
        f"""
        SELECT i.item_id, i.data FROM response_items i
        JOIN responses r ON r.id = i.response_id
        WHERE i.item_id IN ({ids}) AND r.owner = :owner AND NOT r.deleted
        """
    )


@lru_cache(maxsize=4)
def _input_items(order: str, after: bool) -> Query:
    """A page of input items, ``limit`` + 1 rows to tell whether more follow. Like ``_GET``, one
    row with a NULL item when the response exists but the page is empty; none when it does not."""
    direction, before_or_after = ("ASC", ">") if order == "asc" else ("DESC", "<")
    anchor = (
        f"""AND i.position {before_or_after} (
            SELECT position FROM response_items
            WHERE response_id = :id AND item_id = :after LIMIT 1)"""
        if after
        else ""
    )
    return Query(
        f"""
        SELECT i.data FROM responses r
        LEFT JOIN response_items i
            ON i.response_id = r.id AND i.kind = 'input' {anchor}
        WHERE r.id = :id AND r.owner = :owner AND NOT r.deleted
        ORDER BY i.position {direction}
        LIMIT :limit
        """
    )


def response_row(owner: str, response: dict[str, Any]) -> dict[str, Any]:
    """The ``responses`` row of a Response object (its output goes to ``item_rows``)."""
    body = {key: value for key, value in response.items() if key != "output"}
    return {
        "id": response["id"],
        "owner": owner,
        "previous_response_id": response.get("previous_response_id"),
        "created_at": response["created_at"],
        "status": response["status"],
        "model": response["model"],
        "data": orjson.dumps(body).decode(),
    }


def item_rows(
    response_id: str, items: list[tuple[str, dict[str, Any]]], start: int = 0
) -> list[dict[str, Any]]:
    """``response_items`` rows for (kind, item) pairs, numbered from ``start``."""
    return [
        {
            "response_id": response_id,
            "position": position,
            "kind": kind,
            "item_id": item.get("id") or "",
            "data": orjson.dumps(_stored(item)).decode(),
        }
        for position, (kind, item) in enumerate(items, start)
    ]


def response_rows(
    owner: str, response: dict[str, Any], input_items: list[dict[str, Any]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The parameters of a response's row and of its items' rows (input first, then output)."""
    items = [("input", item) for item in input_items]
    items += [("output", item) for item in response["output"]]
    compacted = any(item.get("type") == "compaction" for _, item in items)
    row = response_row(owner, response) | {"check_previous": False, "compacted": compacted}
    return row, item_rows(response["id"], items)


def _stored(item: dict[str, Any]) -> dict[str, Any]:
    """An item as stored: a compaction's opened summary stays in memory, never in a row."""
    if item.get("type") != "compaction":
        return item
    return {key: value for key, value in item.items() if key != "summary"}


def item_columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Item rows as the arrays PostgreSQL's one-statement save unnests."""
    return {
        "positions": [item["position"] for item in rows],
        "kinds": [item["kind"] for item in rows],
        "item_ids": [item["item_id"] for item in rows],
        "datas": [item["data"] for item in rows],
    }


class ResponseStore:
    def __init__(self, database: Database) -> None:
        self._db = database
        # PostgreSQL saves in batches (group commit); SQLite's writer thread batches its own.
        self._saves = None if isinstance(database, SqliteDatabase) else PostgresSaves(database)

    async def save(
        self,
        owner: str,
        response: dict[str, Any],
        input_items: list[dict[str, Any]],
        *,
        check_previous: bool = False,
    ) -> int | None:
        """Write a finished response, its input and its output, atomically; returns the size
        of the items written, in bytes. With ``check_previous``, nothing is written (and None
        returned) unless the previous response is still live."""
        row, rows = response_rows(owner, response, input_items)
        if self._saves is not None:
            return await self._saves.save(entry(row, rows, check_previous=check_previous))
        row["check_previous"] = check_previous
        written = (await self._db.write([(INSERT_RESPONSE, [row]), (INSERT_ITEM, rows)]))[0]
        if not written:
            return None
        return sum(len(item["data"]) for item in rows)

    async def get(self, owner: str, response_id: str) -> dict[str, Any] | None:
        rows = await self._db.fetch(_GET, {"id": response_id, "owner": owner})
        if not rows:
            return None
        response: dict[str, Any] = orjson.loads(rows[0][0])
        response["output"] = [orjson.loads(item) for _, item in rows if item is not None]
        return response

    async def history(
        self, owner: str, response_id: str
    ) -> tuple[list[list[dict[str, Any]]], int] | None:
        """The items of each turn of the chain ending at ``response_id``, oldest turn first, and
        their size in bytes; None if that response is not found."""
        rows = await self._db.fetch(_HISTORY, {"id": response_id, "owner": owner})
        if not rows:
            return None
        turns: list[list[dict[str, Any]]] = []
        depth, size = None, 0
        for row_depth, data in rows:
            if row_depth != depth:
                depth = row_depth
                turns.append([])
            if data is not None:
                turns[-1].append(orjson.loads(data))
                size += len(data)
        return turns, size

    async def is_live(self, owner: str, response_id: str) -> bool:
        """Whether the owner can still see (and chain from) the response."""
        return bool(await self._db.fetch(_IS_LIVE, {"id": response_id, "owner": owner}))

    async def find_items(self, owner: str, item_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Items by id among the owner's live responses (``item_reference`` outside the chain)."""
        found: dict[str, dict[str, Any]] = {}
        # In batches: both drivers cap a statement's parameters (32,767 for asyncpg).
        for start in range(0, len(item_ids), _FIND_BATCH):
            batch = item_ids[start : start + _FIND_BATCH]
            params = {f"id{n}": item_id for n, item_id in enumerate(batch)}
            params["owner"] = owner
            rows = await self._db.fetch(_find_items(len(batch)), params)
            found.update((item_id, orjson.loads(data)) for item_id, data in rows)
        return found

    async def delete(self, owner: str, response_id: str) -> bool:
        return await self._db.execute(_DELETE, {"id": response_id, "owner": owner}) > 0

    async def input_items(
        self, owner: str, response_id: str, *, after: str | None, limit: int, order: str
    ) -> tuple[list[dict[str, Any]], bool] | None:
        """A page of the response's input items and whether more follow; None if not found."""
        query = _input_items(order, after is not None)
        params = {"id": response_id, "owner": owner, "after": after, "limit": limit + 1}
        rows = await self._db.fetch(query, params)
        if not rows:
            return None
        found = [data for (data,) in rows if data is not None]
        return [orjson.loads(data) for data in found[:limit]], len(found) > limit

    async def ping(self) -> None:
        await self._db.fetch(_PING, {})
