"""Read the gateway's database directly from a test, through the store's own ``Database``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection

from responses_gateway.store.engine import Database

T = TypeVar("T")


def read_database(url: str, work: Callable[[Connection], T]) -> T:
    async def run() -> T:
        database = Database(url)
        try:
            return await database.read(work)
        finally:
            await database.dispose()

    return asyncio.run(run())
