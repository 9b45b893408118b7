"""SQLite's group commit (``store/sqlite_writer.py``) on a real database file: writes waiting
together share a transaction, and a unit that fails takes only itself back."""

from __future__ import annotations

import asyncio
import sqlite3
from functools import partial
from pathlib import Path

import pytest

from responses_gateway.store.sqlite_writer import SqliteWriter


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    return connection


def _rows(path: Path) -> list[int]:
    with sqlite3.connect(path) as reader:
        return sorted(row[0] for row in reader.execute("SELECT id FROM t"))


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "w.db"
    with sqlite3.connect(path) as setup:
        setup.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, note TEXT NOT NULL)")
    return path


def test_concurrent_writes_share_transactions_and_failures_stay_their_own(database: Path) -> None:
    connection = _connect(database)
    begins: list[str] = []
    connection.set_trace_callback(
        lambda sql: begins.append(sql) if sql.startswith("BEGIN") else None
    )
    writer = SqliteWriter(connection)

    def insert(i: int) -> int:
        connection.execute("INSERT INTO t VALUES (?, 'first')", (i,))
        connection.execute("UPDATE t SET note = 'second' WHERE id = ?", (i,))
        if i % 10 == 3:
            raise ValueError(f"unit {i} fails after writing")
        if i % 10 == 7:  # a duplicate key, after this unit's first row went in
            connection.execute("INSERT INTO t VALUES (?, 'dup')", (i,))
        return i

    async def main() -> list[int | BaseException]:
        return await asyncio.gather(
            *(writer.run(partial(insert, i)) for i in range(100)), return_exceptions=True
        )

    results = asyncio.run(main())
    writer.close()
    for i, result in enumerate(results):
        if i % 10 == 3:
            assert isinstance(result, ValueError) and str(result) == f"unit {i} fails after writing"
        elif i % 10 == 7:
            assert isinstance(result, sqlite3.IntegrityError)
        else:
            assert result == i
    assert _rows(database) == [i for i in range(100) if i % 10 not in (3, 7)]
    with sqlite3.connect(database) as reader:
        assert {row[0] for row in reader.execute("SELECT note FROM t")} == {"second"}
    assert 1 <= len(begins) < 100  # batched: far fewer transactions than units


def test_a_lone_failing_write_leaves_nothing(database: Path) -> None:
    connection = _connect(database)
    writer = SqliteWriter(connection)

    def fails() -> None:
        connection.execute("INSERT INTO t VALUES (1, 'x')")
        raise RuntimeError("no")

    async def main() -> None:
        with pytest.raises(RuntimeError, match="no"):
            await writer.run(fails)
        assert await writer.run(
            lambda: connection.execute("SELECT count(*) FROM t").fetchone()
        ) == (0,)

    asyncio.run(main())
    writer.close()
    assert _rows(database) == []


def test_a_failed_commit_fails_every_unit_of_the_batch(database: Path) -> None:
    connection = _connect(database)
    writer = SqliteWriter(connection)
    # A deferred foreign key is checked at COMMIT: the batch cannot commit, so no unit may
    # claim success.
    connection.execute("PRAGMA foreign_keys=ON")
    connection.execute(
        "CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER "
        "REFERENCES t(id) DEFERRABLE INITIALLY DEFERRED)"
    )

    def insert(i: int) -> int:
        return connection.execute("INSERT INTO t VALUES (?, 'x')", (i,)).rowcount

    async def main() -> list[object]:
        units = [writer.run(partial(insert, i)) for i in range(5)]
        units.append(
            writer.run(lambda: connection.execute("INSERT INTO child VALUES (1, 999)").rowcount)
        )
        return list(await asyncio.gather(*units, return_exceptions=True))

    results = asyncio.run(main())
    writer.close()
    failed = [r for r in results if isinstance(r, sqlite3.IntegrityError)]
    succeeded = [r for r in results if r == 1]
    # Each unit either committed (its row is there) or was told it failed (it is not).
    assert failed and len(succeeded) + len(failed) == len(results)
    assert len(_rows(database)) == len(succeeded)
