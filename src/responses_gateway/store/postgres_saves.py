"""PostgreSQL's group commit for stored responses: the saves waiting share one statement.

A save on its own cost ~380 K instructions in this process (callgrind, ``ResponseStore.save`` in
a loop), most of it per statement, not per row: asyncpg's pool acquire and release (a task per
release; now spared while a held connection is idle, see ``database._Held``), the bind, and four
text arrays whose encoding checks each element against three ABCs (~60 K). Here every save
waiting while one statement runs goes into the next one, and a batch is one ``jsonb`` parameter
(one ``orjson.dumps``) that the statement unpacks. The strings in it are extracted with
``->>``: a stored JSON text travels as a JSON string, since PostgreSQL's JSON functions cannot
hand back a value holding ``\\u0000`` as text, and NUL is allowed in item text (inside a JSON
text it is ``\\u0000`` escaped once more, which ``jsonb`` accepts). ``jsonb``, not ``json``: the
batch is parsed once, where every ``->``/``->>`` on ``json`` parses the row's text again (the
server's instructions per save, callgrind on its backend, batches of 1/4/8 of the bench's
response: 1.52/1.37/1.35 M with ``json``, 0.49/0.34/0.32 M with ``jsonb``; objects read with
``jsonb_to_recordset`` cost 0.38 M at 4).

Atomic per response: one statement writes all of a batch or none of it; when the server refuses
a batch (a constraint), each of its saves is tried again alone so that only the faulty one fails.
When the database is unreachable every save of the batch gets ``StoreUnavailable``, as each would
have alone.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from responses_gateway.errors import StoreUnavailable
from responses_gateway.store.database import Database, Query

# Each batch entry: [id, owner, previous_response_id, created_at, status, model, data, compacted,
# check_previous, [[kind, item_id, data], ...]]. A response whose ``check_previous`` is set is
# written only if the one it continues is still live (see ResponseStore.save). Returns the id and
# the stored items' size (characters, as ``len`` counts them) of each response written.
# The liveness check is a scalar subquery, one primary-key lookup per entry: written as EXISTS,
# the planner (expecting jsonb_array_elements' 100 rows) made it a hashed subplan over every
# live response, a whole-table scan per chained save (measured: after 8,000 stored responses, a
# chained turn took 8–9 ms instead of 2.2 ms, and grew with the table).
_SAVE_BATCH = Query(
    """
    WITH batch AS MATERIALIZED (
        SELECT value AS r FROM jsonb_array_elements(:batch::jsonb)
    ), response AS (
        INSERT INTO responses
            (id, owner, previous_response_id, created_at, status, model, deleted, data, compacted)
        SELECT r->>0, r->>1, r->>2, (r->>3)::bigint, r->>4, r->>5, FALSE, r->>6,
            (r->>7)::boolean
        FROM batch
        WHERE NOT (r->>8)::boolean OR coalesce((
            SELECT NOT p.deleted FROM responses p
            WHERE p.id = batch.r->>2 AND p.owner = batch.r->>1), FALSE)
        RETURNING id
    ), items AS (
        INSERT INTO response_items (response_id, position, kind, item_id, data)
        SELECT response.id, item.position - 1, item.value->>0, item.value->>1, item.value->>2
        FROM batch JOIN response ON response.id = batch.r->>0,
            jsonb_array_elements(batch.r->9) WITH ORDINALITY AS item(value, position)
        RETURNING response_id, length(data) AS size
    )
    SELECT response.id, (
        SELECT coalesce(sum(items.size), 0) FROM items WHERE items.response_id = response.id)
    FROM response
    """
)

Entry = list[Any]
_Save = tuple[Entry, "asyncio.Future[int | None]"]


def entry(row: dict[str, Any], items: list[dict[str, Any]], *, check_previous: bool) -> Entry:
    """A batch entry from ``response_rows``' parameters."""
    return [
        row["id"],
        row["owner"],
        row["previous_response_id"],
        row["created_at"],
        row["status"],
        row["model"],
        row["data"],
        row["compacted"],
        check_previous,
        [[item["kind"], item["item_id"], item["data"]] for item in items],
    ]


class PostgresSaves:
    def __init__(self, database: Database) -> None:
        self._db = database
        self._waiting: list[_Save] = []
        self._flusher: asyncio.Task[None] | None = None

    async def save(self, saved: Entry) -> int | None:
        """Writes the entry with the others waiting; its items' size, or None if it was not
        written (its previous response is gone)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int | None] = loop.create_future()
        self._waiting.append((saved, future))
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush())
        # A caller cancelled here cancels only its future: its save still lands, as on SQLite.
        return await future

    async def _flush(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                await self._write(batch)
        finally:
            self._flusher = None

    async def _write(self, batch: list[_Save]) -> None:
        try:
            rows = await self._db.fetch(_SAVE_BATCH, {"batch": _dumps(batch)})
        except StoreUnavailable:
            for _, future in batch:
                _settle(future, error=StoreUnavailable())
            return
        except Exception as exc:  # refused by the server: nothing of the batch was written
            if len(batch) == 1:
                _settle(batch[0][1], error=exc)
                return
            for one in batch:
                await self._write([one])
            return
        sizes: dict[str, int] = {row[0]: row[1] for row in rows}
        for saved, future in batch:
            _settle(future, sizes.get(saved[0]))


def _dumps(batch: list[_Save]) -> str:
    return orjson.dumps([saved for saved, _ in batch]).decode()


def _settle(
    future: asyncio.Future[int | None], result: int | None = None, *, error: Exception | None = None
) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
