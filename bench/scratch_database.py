"""The database a benchmark run stores into: a scratch PostgreSQL database or a SQLite file."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import uuid
from collections.abc import Iterator

from processes import Children


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh database for the run, dropped afterwards; yields its SQLAlchemy URL."""
    import asyncpg
    from sqlalchemy.engine import make_url

    name = f"gw_bench_{uuid.uuid4().hex[:10]}"
    admin = make_url(admin_url).set(drivername="postgresql")
    dsn = admin.render_as_string(hide_password=False)

    async def execute(sql: str) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        url = admin.set(drivername="postgresql+asyncpg", database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def bench_database(args: argparse.Namespace, children: Children, name: str) -> Iterator[str]:
    """The run's database: a scratch PostgreSQL one, or a SQLite file in ``children``'s tmp."""
    if args.database == "postgres":
        with postgres_database(args.postgres_url) as url:
            yield url
    else:
        yield f"sqlite:///{children.tmp / name}"


@contextlib.contextmanager
def postgres_server_on(cores: set[int]) -> Iterator[int]:
    """The local PostgreSQL server's processes moved to ``cores`` for the run, and back after;
    yields how many were moved. The gateways are pinned to core 0 to have it alone: unpinned,
    the server's backends ran there too (the scheduler wakes a backend on the core of the
    process that wrote to it), each save evicting the gateway's caches. The postmaster is moved
    too, so the backends it forks meanwhile start on ``cores``. Without the right to move them
    (root, or the server's own user), nothing is moved."""
    found = subprocess.run(["pgrep", "-x", "postgres"], capture_output=True, text=True)
    saved: dict[int, set[int]] = {}
    for pid in map(int, found.stdout.split()):  # the postmaster and its children
        with contextlib.suppress(OSError):
            before = os.sched_getaffinity(pid)
            os.sched_setaffinity(pid, cores)
            saved[pid] = before
    try:
        yield len(saved)
    finally:
        for pid, before in saved.items():
            with contextlib.suppress(OSError):  # a backend may have ended meanwhile
                os.sched_setaffinity(pid, before)
