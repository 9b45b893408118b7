"""The two database drivers behind one small interface: ``fetch``, ``execute``, ``write``.

Measured, and why there is no ORM or SQLAlchemy engine on the request path (SQLAlchemy defines the
schema and runs the migrations): through SQLAlchemy's async engine a stored response cost 2.4 ms
to save and a 50-turn history 3.4 ms to read on PostgreSQL; asyncpg alone does each in about a
third of that (one prepared statement, one round trip, no pool reset query). On SQLite aiosqlite
cost about 2 ms of CPU per stored response in thread hops.

- SQLite (stdlib ``sqlite3``, WAL): reads run inline on the event loop, since a WAL reader never
  waits for the writer and a page-cache read (~0.05 ms) costs less than a thread hop (~0.2 ms).
  Writes can fsync (at checkpoints), so they run on one writer thread, which commits every write
  waiting for it in one transaction (``sqlite_writer.py``): SQLite has one writer at a time anyway.
- PostgreSQL (asyncpg pool, and connections of the gateway's own that spare a statement the
  pool's acquire and release: ``_Held``): statements are prepared once per connection and
  cached. The request path's statements are lookups by key, so the sessions turn off what only
  analytical queries need: JIT (the recursive history query's cost estimate triggered JIT
  compilation, ~8 ms for a plan that runs in 0.1 ms) and hash and merge joins (PostgreSQL
  guesses ~100 rows for a recursive CTE and, on a large or not yet analysed items table, joined
  them by scanning the whole table: 15 ms at 80,000 items against 0.2 ms through the index).
  A statement that does read whole tables (retention's) runs through ``scanning``, with the
  joins back on: under these settings it ran with nested loops, quadratic in the table.

Every statement is written once, with ``:name`` parameters (see ``Query``), and runs on both, but
for one: PostgreSQL saves a response in a single statement (``ResponseStore.save``). ``write`` runs
several statements in one transaction on both (background jobs need it: ``store/jobs.py``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from responses_gateway.errors import StoreUnavailable
from responses_gateway.store.sqlite_writer import SqliteWriter
from responses_gateway.store.urls import is_sqlite, postgres_dsn, sqlite_path

if TYPE_CHECKING:
    import sqlite3

log = logging.getLogger("responses_gateway")

Row = Sequence[Any]
Params = Mapping[str, Any]
Step = tuple["Query", Sequence[Params]]  # a statement and its parameter sets, run in order
T = TypeVar("T")

_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class Query:
    """One SQL statement in both drivers' parameter styles: ``:name`` for sqlite3 as written,
    ``$1, $2, …`` for asyncpg, with the names in the order asyncpg takes them. PostgreSQL casts
    (``::int``) are left alone; string literals are not parsed, so they must not hold ``:x``."""

    __slots__ = ("sql", "numbered", "names")

    def __init__(self, sql: str) -> None:
        self.sql = sql
        names: list[str] = []

        def number(match: re.Match[str]) -> str:
            if match[1] not in names:
                names.append(match[1])
            return f"${names.index(match[1]) + 1}"

        self.numbered = _NAMED.sub(number, sql)
        self.names = tuple(names)

    def args(self, params: Params) -> tuple[Any, ...]:
        return tuple(params[name] for name in self.names)


class Database(Protocol):
    statements: int  # statements run so far (a diagnostic: tests count the history's queries)

    async def fetch(self, query: Query, params: Params) -> list[Row]:
        """The rows of one statement (on SQLite, a read: it runs on the loop's connection)."""
        ...

    async def execute(self, query: Query, params: Params) -> int:
        """One write statement, committed; the number of rows it changed."""
        ...

    async def write(self, steps: Sequence[Step], *, guarded: bool = False) -> list[int]:
        """Every step in one transaction: all of it is written, or none. With ``guarded``,
        nothing is written (and ``[]`` returned) unless the first step changes a row."""
        ...

    async def close(self) -> None: ...


class _Unchanged(Exception):
    """A guarded write's first step changed nothing: roll back."""


async def open_database(url: str, *, pool_size: int = 20) -> Database:
    if is_sqlite(url):
        return SqliteDatabase(url)
    return await PostgresDatabase.connect(url, pool_size=pool_size)


def _unavailable(exc: BaseException) -> StoreUnavailable:
    log.error("database error: %s: %s", type(exc).__name__, exc)
    return StoreUnavailable()


class SqliteDatabase:
    def __init__(self, url: str) -> None:
        # Here, not at the top: a PostgreSQL gateway never loads SQLite (1.0 MB of RSS, measured).
        import sqlite3

        self._error, self._integrity = sqlite3.Error, sqlite3.IntegrityError
        path = sqlite_path(url)
        self.statements = 0
        # The event loop's connection (reads) and the writer thread's connection (writes).
        self._reader = _sqlite_connect(path, check_same_thread=True)
        self._writer = _sqlite_connect(path, check_same_thread=False)
        self._writes = SqliteWriter(self._writer)  # one thread, group commit

    async def fetch(self, query: Query, params: Params) -> list[Row]:
        self.statements += 1
        try:
            return self._reader.execute(query.sql, params).fetchall()
        except self._error as exc:
            raise _unavailable(exc) from exc

    async def execute(self, query: Query, params: Params) -> int:
        self.statements += 1
        return await self._in_writer(lambda: self._writer.execute(query.sql, params).rowcount)

    async def write(self, steps: Sequence[Step], *, guarded: bool = False) -> list[int]:
        """Every step in one transaction: all of it is written, or none. Returns the rows each
        step changed (see ``Database.write`` for ``guarded``)."""
        steps = [(query, param_sets) for query, param_sets in steps if param_sets]
        self.statements += len(steps)

        def run() -> list[int]:
            counts: list[int] = []
            for query, sets in steps:
                counts.append(self._writer.executemany(query.sql, sets).rowcount)
                if guarded and counts == [0]:
                    raise _Unchanged
            return counts

        try:
            return await self._in_writer(run)
        except _Unchanged:
            return []

    async def transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work`` on the writer's connection in one transaction, for writes that must read
        what they wrote (a position handed out by an UPDATE); an exception rolls it back."""
        self.statements += 1
        return await self._in_writer(lambda: work(self._writer))

    async def _in_writer(self, work: Callable[[], T]) -> T:
        try:
            return await self._writes.run(work)
        except self._integrity:
            raise
        except self._error as exc:
            raise _unavailable(exc) from exc

    async def close(self) -> None:
        self._writes.close()
        self._reader.close()
        self._writer.close()


def _sqlite_connect(path: Any, *, check_same_thread: bool) -> sqlite3.Connection:
    import sqlite3  # imported by SqliteDatabase already

    # isolation_level=None: no implicit transactions; writes say BEGIN IMMEDIATE themselves, so
    # a writer takes the lock up front instead of failing to upgrade a read lock later.
    connection = sqlite3.connect(
        path, isolation_level=None, check_same_thread=check_same_thread, timeout=10.0
    )
    # WAL lets readers run beside the one writer; NORMAL is durable across application crashes.
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA foreign_keys=ON")
    return connection


_SESSION = {"jit": "off", "enable_hashjoin": "off", "enable_mergejoin": "off"}
_SCANNING = "SET LOCAL enable_hashjoin = on; SET LOCAL enable_mergejoin = on"
_IDLE_LIFETIME = 300.0  # seconds a connection stays open unused: asyncpg's pool default


class _Held:
    """Connections of the gateway's own beside the pool, used whenever one is idle.

    Measured (callgrind, a one-row lookup in a loop): through asyncpg's pool a statement cost
    314 K instructions, 200 K of them its acquire and release (a task for each release); on a
    held connection 115 K. A stored create at c=1 went from 1.60 to 1.45 M instructions, a
    chained streamed one (its ``is_live`` read and its save) from 3.48 to 3.11 M. Up to
    ``limit`` are opened, as statements need them; a statement that finds them all busy goes
    through the pool, which waits for one of its own. With one held connection c=16 gained
    nothing (the others' statements took the pool); with half of the pool size, a chained
    streamed create at c=16 went from 3.22 to 3.08 M. Broken (killed, or a statement cancelled
    mid-way) a connection is dropped, and the next statement opens a new one, as the pool
    would."""

    def __init__(
        self, connect: Callable[[], Awaitable[Any]], limit: int, idle_lifetime: float
    ) -> None:
        self._connect = connect
        self._limit = limit
        self._lifetime = idle_lifetime  # closed after this long unused, as the pool's are
        # The open connections no statement runs on, with when each was given back: a stack,
        # so the oldest are at the bottom.
        self._idle: list[tuple[Any, float]] = []
        self._open = 0  # connections open or being opened, idle or not
        self._closed = False
        self._reaper: asyncio.TimerHandle | None = None

    async def take(self) -> Any:
        """A connection, the caller's alone until ``give_back``; None when all are busy."""
        while self._idle:
            held = self._idle.pop()[0]
            if not held.is_closed():
                return held
            self._open -= 1
        if self._open >= self._limit or self._closed:
            return None
        self._open += 1
        try:
            return await self._connect()
        except BaseException:
            self._open -= 1
            raise

    def give_back(self, held: Any, error: BaseException | None = None) -> None:
        # Kept after an error only if the server refused the statement alone (not FATAL).
        if self._closed or (error is not None and getattr(error, "severity", None) != "ERROR"):
            held.terminate()
        if held.is_closed():
            self._open -= 1
            return
        loop = asyncio.get_running_loop()
        self._idle.append((held, loop.time()))
        if self._reaper is None:
            self._reaper = loop.call_later(self._lifetime, self._reap)

    def _reap(self) -> None:
        """Closes what has been idle for the lifetime (after a burst, up to ``limit`` stay
        open otherwise); one timer at a time, set again for the oldest still idle."""
        loop = asyncio.get_running_loop()
        cutoff = loop.time() - self._lifetime
        stale = 0
        while stale < len(self._idle) and self._idle[stale][1] <= cutoff:
            stale += 1
        expired, self._idle = self._idle[:stale], self._idle[stale:]
        self._open -= len(expired)
        for held, _ in expired:
            held.terminate()  # idle, so no statement is cut short: what asyncpg's pool does
        self._reaper = None
        if self._idle and not self._closed:
            self._reaper = loop.call_at(self._idle[0][1] + self._lifetime, self._reap)

    async def close(self) -> None:
        self._closed = True  # a connection taken now is closed when given back
        if self._reaper is not None:
            self._reaper.cancel()
        idle, self._idle = self._idle, []
        for held, _ in idle:
            await held.close()


class PostgresDatabase:
    def __init__(self, pool: Any, held: _Held | None = None) -> None:
        self.statements = 0
        self._pool = pool
        self._held = held  # None with a pool of one connection: that one is the pool's

    @classmethod
    async def connect(
        cls, url: str, *, pool_size: int, idle_lifetime: float = _IDLE_LIFETIME
    ) -> PostgresDatabase:
        import asyncpg

        dsn = postgres_dsn(url)
        # The held connections count against ``pool_size``: half of it, the pool the rest.
        held = pool_size // 2
        try:
            pool = await asyncpg.create_pool(
                dsn,
                min_size=1,
                max_size=pool_size - held,
                server_settings=_SESSION,
                reset=_keep_session,
                max_inactive_connection_lifetime=idle_lifetime,
            )
        except (OSError, asyncpg.PostgresError) as exc:
            raise RuntimeError(f"cannot connect to PostgreSQL: {exc}") from exc
        if not held:
            return cls(pool)
        connect = functools.partial(asyncpg.connect, dsn, server_settings=_SESSION)
        return cls(pool, _Held(connect, held, idle_lifetime))

    async def fetch(self, query: Query, params: Params) -> list[Row]:
        self.statements += 1
        rows: list[Row] = await self._guard(self._run("fetch", query.numbered, query.args(params)))
        return rows

    async def execute(self, query: Query, params: Params) -> int:
        self.statements += 1
        status: str = await self._guard(self._run("execute", query.numbered, query.args(params)))
        return int(status.rpartition(" ")[2] or 0)

    async def scanning(self, query: Query, params: Params) -> list[Row]:
        """``fetch`` for a statement that reads much of its tables (retention's), in a
        transaction of its own with the hash and merge joins that the sessions turn off for the
        gateway's lookups (``_SESSION``). Without them PostgreSQL matched a purge's candidates
        against its set of kept responses row by row (``bench/purge.py``: counting 50,000 of
        450,000 took 94 s, then 0.5 s)."""
        self.statements += 1

        async def run() -> list[Row]:
            async with self._pool.acquire() as connection, connection.transaction():
                await connection.execute(_SCANNING)
                rows: list[Row] = await connection.fetch(query.numbered, *query.args(params))
            return rows

        return await self._guard(run())

    async def _run(self, method: str, sql: str, args: tuple[Any, ...]) -> Any:
        """One statement: on the held connection when it is idle, else through the pool."""
        held = self._held
        if held is None or (connection := await held.take()) is None:
            return await getattr(self._pool, method)(sql, *args)
        try:
            result = await getattr(connection, method)(sql, *args)
        except BaseException as error:
            held.give_back(connection, error)
            raise
        held.give_back(connection)
        return result

    async def write(self, steps: Sequence[Step], *, guarded: bool = False) -> list[int]:
        """Every step in one transaction (see ``Database.write``). A step of several parameter
        sets runs as one ``executemany`` and counts as ``len(sets)`` rows: asyncpg reports no
        count for it."""
        steps = [(query, param_sets) for query, param_sets in steps if param_sets]
        self.statements += len(steps)

        async def run() -> list[int]:
            counts: list[int] = []
            async with self._pool.acquire() as connection, connection.transaction():
                for query, sets in steps:
                    if len(sets) == 1:
                        status = await connection.execute(query.numbered, *query.args(sets[0]))
                        counts.append(int(status.rpartition(" ")[2] or 0))
                    else:
                        await connection.executemany(
                            query.numbered, [query.args(params) for params in sets]
                        )
                        counts.append(len(sets))
                    if guarded and counts == [0]:
                        raise _Unchanged
            return counts

        try:
            return await self._guard(run())
        except _Unchanged:
            return []

    async def _guard(self, work: Awaitable[T]) -> T:
        import asyncpg

        try:
            return await work
        except asyncpg.IntegrityConstraintViolationError:
            raise
        except (
            OSError,
            TimeoutError,
            asyncpg.PostgresError,
            asyncpg.InterfaceError,
            # A connection killed mid-statement (pg_terminate_backend, a failover) can surface
            # as the driver's own protocol errors.
            asyncpg.InternalClientError,
        ) as exc:
            raise _unavailable(exc) from exc

    async def close(self) -> None:
        if self._held is not None:
            await self._held.close()
        await self._pool.close()


async def _keep_session(_connection: Any) -> None:
    """Replaces asyncpg's reset query on release (a round trip per statement): the gateway never
    changes session state. asyncpg still rolls back a transaction left open."""
