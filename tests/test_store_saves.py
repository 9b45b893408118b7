"""``ResponseStore.save`` under concurrency, on both databases: saves that wait together share a
statement (PostgreSQL, ``store/postgres_saves.py``) or a transaction (SQLite), yet each lands
whole or not at all and answers as it would alone."""

from __future__ import annotations

import asyncio
from typing import Any

from responses_gateway.ids import new_id
from responses_gateway.store.database import open_database
from responses_gateway.store.responses import ResponseStore


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
