"""Database access for the store (SQLite and PostgreSQL) and migrations for both."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

T = TypeVar("T")
Work = Callable[[Connection], T]


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sync_url(url: str) -> str:
    """SQLite through the standard ``sqlite3`` driver, whatever driver the URL names."""
    return make_url(url).set(drivername="sqlite").render_as_string(hide_password=False)


class Database:
    """Runs store work (plain functions of a SQLAlchemy ``Connection``) without blocking the loop.

    PostgreSQL: the async engine (asyncpg), ``run_sync`` on an async connection.

    SQLite, measured (aiosqlite hops to its thread for every statement: ~2 ms of CPU per stored
    response): reads run inline on the event loop, since a WAL reader never waits for a writer
    and a page-cache read costs less (~0.06 ms) than a thread hop (~0.2 ms). Writes can fsync (at
    checkpoints), so they go to one writer thread, one hop per transaction: SQLite has one writer
    at a time anyway, and writers that collide back off in ``busy_timeout`` sleeps of tens of ms.
    """

    def __init__(self, url: str) -> None:
        self._engine: AsyncEngine | None = None
        self._sqlite: Engine | None = None
        if is_sqlite(url):
            self._sqlite = create_engine(sync_url(url), pool_size=8, max_overflow=8)
            event.listen(self._sqlite, "connect", _sqlite_pragmas)
            self._threads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        else:
            # JIT off: PostgreSQL's estimate for the recursive history query is high enough to
            # trigger JIT compilation, ~8 ms per query for a plan that runs in 0.1 ms.
            # No pre-ping (a round trip per checkout): pool_recycle retires old connections.
            self._engine = create_async_engine(
                url,
                pool_size=10,
                max_overflow=20,
                pool_recycle=300,
                connect_args={"server_settings": {"jit": "off"}},
            )

    async def read(self, work: Work[T]) -> T:
        if self._sqlite is not None:
            with self._sqlite.connect() as connection:
                return work(connection)
        assert self._engine is not None
        async with self._engine.connect() as connection:
            return await connection.run_sync(work)

    async def write(self, work: Work[T]) -> T:
        """``work`` in one transaction: all of it is written, or none."""
        if self._sqlite is not None:
            engine = self._sqlite

            def run() -> T:
                with engine.begin() as connection:
                    return work(connection)

            return await asyncio.get_running_loop().run_in_executor(self._threads, run)
        assert self._engine is not None
        async with self._engine.begin() as connection:
            return await connection.run_sync(work)

    async def dispose(self) -> None:
        if self._sqlite is not None:
            self._threads.shutdown(wait=True)
            self._sqlite.dispose()
        if self._engine is not None:
            await self._engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; NORMAL is durable across application crashes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _alembic_paths() -> tuple[Path, Path]:
    """The packaged copies (wheel) first, else the checkout's (editable install, Docker)."""
    package = Path(__file__).resolve().parent.parent
    for root in (package, package.parent.parent):
        if (root / "migrations" / "env.py").exists():
            ini = root / "alembic.ini"
            return ini, root / "migrations"
    raise RuntimeError("migrations/ not found next to the package or in the checkout")


def alembic_config(url: str) -> Config:
    """Alembic's config for ``url``, with the scripts found wherever the package is installed."""
    ini, scripts = _alembic_paths()
    config = Config(str(ini)) if ini.exists() else Config()
    config.set_main_option("script_location", str(scripts))
    config.attributes["database_url"] = url
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (blocking; run it before serving)."""
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)
