"""Read the gateway's database directly from a test, through the store's own drivers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from responses_gateway.store.database import Database, Query, Row, open_database

T = TypeVar("T")


def with_database(url: str, work: Callable[[Database], Awaitable[T]], *, pool_size: int = 1) -> T:
    """Run ``work`` on a fresh connection (or pool) to ``url`` (from sync test code)."""

    async def run() -> T:
        database = await open_database(url, pool_size=pool_size)
        try:
            return await work(database)
        finally:
            await database.close()

    return asyncio.run(run())


def read_database(url: str, sql: str, **params: Any) -> list[Row]:
    """The rows of one ``SELECT`` (``:name`` parameters)."""
    return with_database(url, lambda database: database.fetch(Query(sql), params))
