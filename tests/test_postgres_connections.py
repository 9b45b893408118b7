"""PostgreSQL's held connections (``store/database.py``'s ``_Held``): statements run on them
while one is idle, yet a connection killed or cancelled mid-statement costs that statement only,
and the gateway never opens more than ``pool_size`` connections."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from responses_gateway.errors import StoreUnavailable
from responses_gateway.store.database import Database, PostgresDatabase, Query, open_database
from tests.conftest import PG_ADMIN_URL, scratch_postgres

_SLEEP = Query("SELECT pg_sleep(:seconds)")
_PID = Query("SELECT pg_backend_pid()")
_BACKENDS = "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()"


async def _backends(admin: asyncpg.Connection, database: str) -> list[int]:
    return [row[0] for row in await admin.fetch(_BACKENDS, database)]


async def _pid(db: Database) -> int:
    """The server process of the connection the statement ran on."""
    ((pid,),) = await db.fetch(_PID, {})
    return int(pid)


async def _settled(admin: asyncpg.Connection, database: str, count: int) -> None:
    """Waits for the server to show ``count`` connections to the database (a new one shows up
    a moment after it is made, a closed one goes a moment after)."""
    for _ in range(100):
        if len(await _backends(admin, database)) == count:
            return
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("pool_size", [1, 4])
def test_pool_size_caps_the_connections(pool_size: int) -> None:
    async def main(url: str, database: str) -> None:
        db = await open_database(url, pool_size=pool_size)
        admin = await asyncpg.connect(PG_ADMIN_URL)
        try:
            sleeps = [db.fetch(_SLEEP, {"seconds": 0.3}) for _ in range(3 * pool_size)]
            running = asyncio.gather(*sleeps)
            await asyncio.sleep(0.15)
            assert len(await _backends(admin, database)) == pool_size
            await running
        finally:
            await admin.close()
            await db.close()

    with scratch_postgres("held_size") as url:
        asyncio.run(main(url, url.rsplit("/", 1)[1]))


def test_a_connection_killed_or_cancelled_mid_statement_fails_that_statement_only() -> None:
    async def main(url: str) -> None:
        db = await open_database(url, pool_size=2)  # one held connection, a pool of one
        admin = await asyncpg.connect(PG_ADMIN_URL)
        try:
            held = await _pid(db)
            sleeping = asyncio.ensure_future(db.fetch(_SLEEP, {"seconds": 30}))
            await asyncio.sleep(0.2)  # it runs on the held connection: that one was idle
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", held)
            with pytest.raises(StoreUnavailable):
                await sleeping
            replaced = await _pid(db)  # the next statement works, on a new connection
            assert replaced != held

            cancelled = asyncio.ensure_future(db.fetch(_SLEEP, {"seconds": 1}))
            await asyncio.sleep(0.2)
            cancelled.cancel()
            with pytest.raises(asyncio.CancelledError):
                await cancelled
            # Not kept: the cancelled statement may still be running on it.
            assert await asyncio.wait_for(_pid(db), 5) != replaced
        finally:
            await admin.close()
            await db.close()

    with scratch_postgres("held_kill") as url:
        asyncio.run(main(url))


def test_a_refused_statement_keeps_the_connection() -> None:
    async def main(url: str, database: str) -> None:
        db = await open_database(url, pool_size=2)
        admin = await asyncpg.connect(PG_ADMIN_URL)
        try:
            held = await _pid(db)
            with pytest.raises(StoreUnavailable):  # division by zero: an ERROR, not FATAL
                await db.fetch(Query("SELECT 1 / :zero::int"), {"zero": 0})
            assert await _pid(db) == held
            await db.close()
            await _settled(admin, database, 0)
            assert await _backends(admin, database) == []  # closed on shutdown, held one too
        finally:
            await admin.close()
            await db.close()

    with scratch_postgres("held_error") as url:
        asyncio.run(main(url, url.rsplit("/", 1)[1]))


def test_idle_connections_are_closed_after_their_lifetime() -> None:
    async def main(url: str, database: str) -> None:
        db = await PostgresDatabase.connect(url, pool_size=4, idle_lifetime=1.0)
        admin = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await asyncio.gather(*(db.fetch(_SLEEP, {"seconds": 0.2}) for _ in range(4)))
            burst = await _backends(admin, database)
            assert len(burst) == 4  # two held connections, two pooled
            kept = await _pid(db)  # a held one, used again: open a lifetime from now
            await asyncio.sleep(0.6)
            assert await _pid(db) == kept
            await asyncio.sleep(0.6)  # the others have been idle 1.2 s, this one 0.6 s
            await _settled(admin, database, 2)
            left = await _backends(admin, database)
            assert kept in left and len(left) == 2  # and the pool's floor of one connection
            await asyncio.sleep(0.5)
            await _settled(admin, database, 1)
            assert await _backends(admin, database) == [p for p in left if p != kept]
            assert await _pid(db) != kept  # the next statement opens a new one
        finally:
            await admin.close()
            await db.close()

    with scratch_postgres("held_idle") as url:
        asyncio.run(main(url, url.rsplit("/", 1)[1]))
