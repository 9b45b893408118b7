"""Alembic environment: one set of migrations for SQLite (stdlib driver) and PostgreSQL (asyncpg).

On PostgreSQL the run holds an advisory lock, so replicas that start together migrate one at a time
instead of racing to create the same tables.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import create_engine, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from responses_gateway.config import Settings
from responses_gateway.store.tables import metadata
from responses_gateway.store.urls import alembic_url, is_sqlite

MIGRATION_LOCK = 7_265_730_451  # any constant shared by every replica

config = context.config
url = alembic_url(config.attributes.get("database_url") or Settings().database_url)


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_locked(connection: Connection) -> None:
    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
    try:
        run_migrations(connection)
    finally:
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
        connection.commit()


async def run_postgres() -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(run_locked)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=url, target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif is_sqlite(url):
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        run_migrations(connection)
        connection.commit()
    engine.dispose()
else:
    asyncio.run(run_postgres())
