"""``ResponseStore.save`` under concurrency, on both databases: saves that wait together share a
statement (PostgreSQL, ``store/postgres_saves.py``) or a transaction (SQLite), yet each lands
whole or not at all and answers as it would alone."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import orjson

from responses_gateway.ids import new_id
from responses_gateway.store.database import _SESSION, open_database
from responses_gateway.store.migrations import migrate
from responses_gateway.store.postgres_saves import _SAVE_BATCH, entry
from responses_gateway.store.responses import ResponseStore, response_rows
from responses_gateway.store.urls import postgres_dsn
from tests.conftest import scratch_postgres


def _response(previous: str | None = None, text: str = "hi") -> dict[str, Any]:
    output = [{"id": new_id("msg"), "type": "message", "role": "assistant", "status": "completed",
               "content": [{"type": "output_text", "text": text, "annotations": []}]}]  # fmt: skip
    return {"id": new_id("resp"), "object": "response", "created_at": 1, "status": "completed",
            "model": "m\u00e9", "previous_response_id": previous, "output": output,
            "instructions": f"say {text}"}  # fmt: skip


def _user(text: str) -> list[dict[str, Any]]:
    return [{"id": new_id("msg"), "type": "message", "role": "user",
             "content": [{"type": "input_text", "text": text}]}]  # fmt: skip


def test_concurrent_saves_land_whole_and_answer_each_alone(database_url: str) -> None:
    async def main() -> None:
        database = await open_database(database_url)
        store = ResponseStore(database)
        try:
            gone = _response()
            assert await store.save("o", gone, []) is not None
            assert await store.delete("o", gone["id"])
            duplicate = _response()
            assert await store.save("o", duplicate, []) is not None
            texts = ["plain", "nul \u0000 here", 'quote " and \\ and \u2028 😀', "x" * 5000]
            fine = [_response(text=text) for text in texts]
            chained = _response(previous=gone["id"])
            saves = [store.save("o", r, _user(r["instructions"])) for r in fine]
            saves.append(store.save("o", chained, [], check_previous=True))
            saves.append(store.save("o", duplicate, []))  # its id is taken: it alone fails
            *sizes, not_written, refused = await asyncio.gather(*saves, return_exceptions=True)
            assert not_written is None
            assert isinstance(refused, Exception)
            for response, size in zip(fine, sizes, strict=True):
                stored = await store.get("o", response["id"])
                assert stored == response
                page = await store.input_items(
                    "o", response["id"], after=None, limit=5, order="asc"
                )
                assert (
                    page is not None
                    and page[0][0]["content"][0]["text"] == response["instructions"]
                )
                history = await store.history("o", response["id"])
                assert history is not None and history[1] == size
            assert await store.get("o", chained["id"]) is None
            before = database.statements
            await asyncio.gather(*(store.save("o", _response(), []) for _ in range(8)))
            if "postgresql" in database_url:  # one statement for the eight
                assert database.statements == before + 1
        finally:
            await database.close()

    asyncio.run(main())


def test_a_chained_save_looks_its_previous_response_up_by_key() -> None:
    """PostgreSQL's batched save checks each previous response by its primary key, never by
    reading the table: as EXISTS the check became a hashed subplan over every live response,
    so each chained turn scanned the whole table (8–9 ms a turn after 8,000 responses)."""

    async def main(url: str) -> None:
        database = await open_database(url)
        store = ResponseStore(database)
        admin = await asyncpg.connect(postgres_dsn(url), server_settings=_SESSION)
        try:
            for _ in range(20):  # 2,000 rows: enough that a scan is never the cheap way
                await asyncio.gather(*(store.save("o", _response(), []) for _ in range(100)))
            await admin.execute("ANALYZE responses")
            previous = _response()
            await store.save("o", previous, [])
            chained = _response(previous=previous["id"])
            row, items = response_rows("o", chained, [])
            batch = orjson.dumps([entry(row, items, check_previous=True)]).decode()
            explain = "EXPLAIN " + _SAVE_BATCH.numbered
            plan = "\n".join(line for (line,) in await admin.fetch(explain, batch))
            assert "Seq Scan on responses" not in plan and "hashed SubPlan" not in plan, plan
            assert "Index Scan using pk_responses on responses p" in plan, plan
        finally:
            await admin.close()
            await database.close()

    with scratch_postgres("save_plan") as url:
        migrate(url)
        asyncio.run(main(url))
