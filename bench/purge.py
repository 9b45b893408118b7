"""What retention's purge costs at scale, in process: one batch statement, and a whole purge, on a
database filled straight with SQL (``--live`` young responses in chains of ten, each chain's
first turn old; ``--old`` old responses no one needs).

    .venv/bin/python bench/purge.py [--database sqlite|postgres|both] [--live 400000] [--old 50000]

Every batch finds what is needed again (each is one statement, so no lock is held for long):
the batch's time, times the number of batches, is what a purge of that much takes. Batches are
500 responses on SQLite and 5,000 on PostgreSQL (``store/retention.py`` says why).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from responses_gateway.store.database import Database, Query, open_database
from responses_gateway.store.migrations import migrate
from responses_gateway.store.retention import RetentionStore
from scratch_database import postgres_database
from tables import say, table

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
CUTOFF = 1_000_000
# The chains' turns: young but the first of every ten (old, and needed by its chain's turns).
_FILL = """
    INSERT INTO responses (id, owner, previous_response_id, created_at, status, model, deleted, data)
    SELECT 'resp_' || n, 'o', CASE WHEN n % 10 = 0 THEN NULL ELSE 'resp_' || (n - 1) END,
        CASE WHEN n % 10 = 0 THEN 1 ELSE 2000000 END, 'completed', 'm', false, '{}'
    FROM numbers"""
_FILL_OLD = """
    INSERT INTO responses (id, owner, previous_response_id, created_at, status, model, deleted, data)
    SELECT 'resp_old_' || n, 'o', NULL, 1, 'completed', 'm', false, '{}' FROM numbers"""


def _numbers(count: int, postgres: bool) -> str:
    if postgres:
        return f"WITH numbers(n) AS (SELECT generate_series(0, {count - 1}))"
    last = count - 1
    return f"WITH RECURSIVE numbers(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM numbers WHERE n < {last})"


async def _measure(url: str, live: int, old: int) -> list[str]:
    postgres = url.startswith("postgresql")
    database: Database = await open_database(url)
    try:
        await database.execute(Query(f"{_numbers(live, postgres)} {_FILL}"), {})
        await database.execute(Query(f"{_numbers(old, postgres)} {_FILL_OLD}"), {})
        # What autovacuum does after such a fill (the first read of fresh rows otherwise writes
        # every page's hint bits, and the planner knows nothing of them).
        await database.fetch(Query("VACUUM ANALYZE" if postgres else "ANALYZE"), {})
        store = RetentionStore(database)
        started = time.perf_counter()
        unneeded = await store.count_unneeded(CUTOFF)
        counted = time.perf_counter() - started
        started = time.perf_counter()
        removed = await store.purge(CUTOFF)
        purged = time.perf_counter() - started
    finally:
        await database.close()
    assert unneeded == removed == old, (unneeded, removed, old)
    batches = -(-old // store.batch) + (old % store.batch == 0)
    kind = "postgres" if postgres else "sqlite"
    return [
        kind,
        f"{live:,}",
        f"{old:,}",
        f"{counted:.2f} s",
        f"{purged:.1f} s",
        f"{purged / batches:.2f} s ({store.batch})",
    ]


@contextlib.contextmanager
def _database(kind: str) -> Iterator[str]:
    if kind == "postgres":
        with postgres_database(PG_ADMIN) as url:
            migrate(url)
            yield url
        return
    with tempfile.TemporaryDirectory(prefix="purge-") as tmp:
        url = f"sqlite:///{tmp}/gateway.db"
        migrate(url)
        yield url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--live", type=int, default=400_000)
    parser.add_argument("--old", type=int, default=50_000)
    args = parser.parse_args()
    rows = []
    for kind in ("sqlite", "postgres") if args.database == "both" else (args.database,):
        with _database(kind) as url:
            rows.append(asyncio.run(_measure(url, args.live, args.old)))
    say("retention purge (old responses no one needs, among live chains)")
    say(table(["database", "live", "old", "count", "whole purge", "per batch (its size)"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
