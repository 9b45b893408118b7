"""The one set of migrations runs on SQLite and PostgreSQL, and matches the tables the code uses."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, create_engine, inspect
from sqlalchemy.ext.asyncio import create_async_engine

from responses_gateway.store.migrations import alembic_config, migrate
from responses_gateway.store.tables import metadata
from responses_gateway.store.urls import alembic_url, is_sqlite
from tests.conftest import scratch_postgres


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    with scratch_postgres("gateway_migrations") as url:
        yield url


def _schema(url: str) -> tuple[set[str], list[Any]]:
    """The tables present and alembic's diff between them and ``tables.metadata``."""

    def read(connection: Connection) -> tuple[set[str], list[Any]]:
        tables = set(inspect(connection).get_table_names())
        return tables, compare_metadata(MigrationContext.configure(connection), metadata)

    if is_sqlite(url):
        engine = create_engine(alembic_url(url))
        try:
            with engine.connect() as connection:
                return read(connection)
        finally:
            engine.dispose()

    async def read_postgres() -> tuple[set[str], list[Any]]:
        engine = create_async_engine(alembic_url(url))
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(read)
        finally:
            await engine.dispose()

    return asyncio.run(read_postgres())


def test_upgrade_downgrade_upgrade_without_drift(empty_database: str) -> None:
    migrate(empty_database)
    tables, diff = _schema(empty_database)
    assert {"responses", "response_items", "alembic_version"} <= tables
    assert diff == []
    command.downgrade(alembic_config(empty_database), "base")
    tables, _ = _schema(empty_database)
    assert not tables & {"responses", "response_items"}
    migrate(empty_database)
    tables, diff = _schema(empty_database)
    assert {"responses", "response_items"} <= tables and diff == []
