"""The one set of migrations runs on SQLite and PostgreSQL, and matches the tables the code uses."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, inspect
from sqlalchemy.ext.asyncio import create_async_engine

from responses_gateway.store.database import open_database
from responses_gateway.store.migrations import (
    alembic_config,
    head_revision,
    migrate,
    schema_revision,
)
from responses_gateway.store.tables import metadata
from responses_gateway.store.urls import alembic_url, is_sqlite
from tests.conftest import TEST_SEALING_KEY, scratch_postgres
from tests.support.process import cli, free_port


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


def test_the_head_read_from_the_scripts_is_alembics() -> None:
    """``serve`` compares the schema with it to decide whether Alembic must run at all."""
    scripts = ScriptDirectory.from_config(alembic_config("sqlite:///unused.db"))
    assert head_revision() == scripts.get_current_head()


def test_schema_revision_without_and_with_migrations(empty_database: str) -> None:
    async def revision() -> str | None:
        database = await open_database(empty_database, pool_size=1)
        try:
            return await schema_revision(database)
        finally:
            await database.close()

    assert asyncio.run(revision()) is None
    migrate(empty_database)
    assert asyncio.run(revision()) == head_revision()


def test_serve_stops_on_a_schema_these_scripts_do_not_know(tmp_path: Path) -> None:
    """Alembic's own error, from the child process ``serve`` runs it in, stops the start."""
    url = f"sqlite:///{tmp_path / 'ahead.db'}"
    migrate(url)
    with sqlite3.connect(tmp_path / "ahead.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")
    env = {"GATEWAY_DATABASE_URL": url, "GATEWAY_SEALING_KEYS": TEST_SEALING_KEY}
    result = cli("serve", "--port", str(free_port()), env=env)
    assert result.returncode != 0
    assert "9999" in result.stderr and "responses-gateway migrate failed" in result.stderr
