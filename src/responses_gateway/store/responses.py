"""``ResponseStore``: every SQL statement the gateway runs, each call one short transaction.

No transaction is held across an upstream or MCP await: the service loads history before the run
and saves the finished response after it, in one transaction that writes the row and its items, so
a stored response is never half-written. Each method is a plain function of a connection, run by
``Database`` (a thread for SQLite, asyncpg for PostgreSQL).
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, and_, insert, select, text, update

from responses_gateway.store.engine import Database
from responses_gateway.store.tables import response_items, responses

_HISTORY = text(
    """
    WITH RECURSIVE chain(id, prev, depth) AS (
        SELECT id, previous_response_id, 0 FROM responses
        WHERE id = :id AND owner = :owner AND deleted = :no
        UNION ALL
        SELECT r.id, r.previous_response_id, chain.depth + 1
        FROM responses r JOIN chain ON r.id = chain.prev
        WHERE chain.depth < 100000
    )
    SELECT chain.depth, i.data FROM chain
    LEFT JOIN response_items i ON i.response_id = chain.id
    ORDER BY chain.depth DESC, i.position
    """
)


class ResponseStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def save(
        self, owner: str, response: dict[str, Any], input_items: list[dict[str, Any]]
    ) -> None:
        """Write a finished response, its input and its output, atomically."""
        body = {key: value for key, value in response.items() if key != "output"}
        row = {
            "id": response["id"],
            "owner": owner,
            "previous_response_id": response.get("previous_response_id"),
            "created_at": response["created_at"],
            "status": response["status"],
            "model": response["model"],
            "deleted": False,
            "data": orjson.dumps(body).decode(),
        }
        items = [("input", item) for item in input_items]
        items += [("output", item) for item in response["output"]]
        rows = [
            {
                "response_id": response["id"],
                "position": position,
                "kind": kind,
                "item_id": item.get("id") or "",
                "data": orjson.dumps(item).decode(),
            }
            for position, (kind, item) in enumerate(items)
        ]

        def work(connection: Connection) -> None:
            connection.execute(insert(responses), row)
            if rows:
                connection.execute(insert(response_items), rows)

        await self._db.write(work)

    async def get(self, owner: str, response_id: str) -> dict[str, Any] | None:
        def work(connection: Connection) -> dict[str, Any] | None:
            found = connection.execute(
                select(responses.c.data).where(_visible(owner, response_id))
            ).first()
            if found is None:
                return None
            output = connection.execute(
                select(response_items.c.data)
                .where(
                    response_items.c.response_id == response_id,
                    response_items.c.kind == "output",
                )
                .order_by(response_items.c.position)
            )
            response: dict[str, Any] = orjson.loads(found.data)
            response["output"] = [orjson.loads(data) for (data,) in output]
            return response

        return await self._db.read(work)

    async def history(self, owner: str, response_id: str) -> list[dict[str, Any]] | None:
        """Every item of the chain ending at ``response_id``, oldest first; None if not found."""

        def work(connection: Connection) -> list[Any]:
            params = {"id": response_id, "owner": owner, "no": False}
            return list(connection.execute(_HISTORY, params).all())

        rows = await self._db.read(work)
        if not rows:
            return None
        return [orjson.loads(data) for _, data in rows if data is not None]

    async def find_items(self, owner: str, item_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Items by id among the owner's live responses (``item_reference`` outside the chain)."""
        if not item_ids:
            return {}
        query = (
            select(response_items.c.item_id, response_items.c.data)
            .join(responses, responses.c.id == response_items.c.response_id)
            .where(
                response_items.c.item_id.in_(item_ids),
                responses.c.owner == owner,
                responses.c.deleted.is_(False),
            )
        )

        def work(connection: Connection) -> list[Any]:
            return list(connection.execute(query).all())

        return {item_id: orjson.loads(data) for item_id, data in await self._db.read(work)}

    async def delete(self, owner: str, response_id: str) -> bool:
        statement = update(responses).where(_visible(owner, response_id)).values(deleted=True)

        def work(connection: Connection) -> bool:
            return bool(connection.execute(statement).rowcount)

        return await self._db.write(work)

    async def input_items(
        self, owner: str, response_id: str, *, after: str | None, limit: int, order: str
    ) -> tuple[list[dict[str, Any]], bool] | None:
        """A page of the response's input items and whether more follow; None if not found."""
        position = response_items.c.position
        query = select(response_items.c.data).where(
            response_items.c.response_id == response_id, response_items.c.kind == "input"
        )
        if after is not None:
            anchor = (
                select(position)
                .where(
                    response_items.c.response_id == response_id,
                    response_items.c.item_id == after,
                )
                .limit(1)
                .scalar_subquery()
            )
            query = query.where(position > anchor if order == "asc" else position < anchor)
        query = query.order_by(position.asc() if order == "asc" else position.desc())
        exists = select(responses.c.id).where(_visible(owner, response_id))

        def work(connection: Connection) -> list[Any] | None:
            if connection.execute(exists).first() is None:
                return None
            return list(connection.execute(query.limit(limit + 1)).all())

        rows = await self._db.read(work)
        if rows is None:
            return None
        items = [orjson.loads(data) for (data,) in rows[:limit]]
        return items, len(rows) > limit

    async def ping(self) -> None:
        def work(connection: Connection) -> None:
            connection.execute(text("SELECT 1"))

        await self._db.read(work)


def _visible(owner: str, response_id: str) -> Any:
    return and_(
        responses.c.id == response_id,
        responses.c.owner == owner,
        responses.c.deleted.is_(False),
    )
