"""The SQL of retention: which stored responses no one needs any more, and removing them.

A response is needed while it is live and young enough, and so is every ancestor of such a
response (tombstones included): a chain's history stays whole for as long as its newest turn is
kept. Everything else goes, its items with it (``ON DELETE CASCADE``): old responses no young one
descends from, and deleted tombstones no live response descends from. With retention off (a
cutoff of 0) only those tombstones go. Removal runs in batches, each one statement, so no lock is
held for long; on PostgreSQL each batch first takes an advisory lock for its own transaction, so
replicas purging at once do not do the same work twice.
"""

from __future__ import annotations

from responses_gateway.store.database import Database, PostgresDatabase, Query


def _could_go(row: str) -> str:
    """Whether the response ``row`` could go: deleted, or older than the cutoff."""
    return f"({row}.deleted OR {row}.created_at < :cutoff)"


# Of what could go, what must stay: what a conversation's items refer to, and the parent of
# anything that stays, walked up from the live and young responses (which stay themselves)
# through what could go. Every response is one or the other,
# so the walk never needs to pass a live, young one: its own parent is where a walk starts.
_KEPT = f"""
    WITH RECURSIVE kept(id, prev) AS (
        SELECT c.id, c.previous_response_id FROM responses c
        WHERE {_could_go("c")} AND (
            EXISTS (SELECT 1 FROM responses b WHERE b.previous_response_id = c.id
                AND NOT b.deleted AND b.created_at >= :cutoff)
            OR c.id IN (SELECT response_id FROM conversation_items WHERE response_id IS NOT NULL))
        UNION
        SELECT r.id, r.previous_response_id FROM responses r JOIN kept k ON r.id = k.prev
        WHERE {_could_go("r")}
    )"""
# NOT EXISTS, not NOT IN: PostgreSQL ran ``id NOT IN (SELECT id FROM needed)`` as a plain subplan
# rescanned for every row, once the set outgrew work_mem (one batch of 500 against 400,000 live
# responses: 16.9 s); as here it is a hash anti-join.
_UNNEEDED = f"""
    SELECT id FROM responses c
    WHERE {_could_go("c")} AND NOT EXISTS (SELECT 1 FROM kept WHERE kept.id = c.id)"""

_COUNT = Query(f"{_KEPT} SELECT count(*) FROM ({_UNNEEDED}) AS unneeded")
# The statement starts with DELETE (the CTE inside), so that sqlite3 reports the rows it removed.
_DELETE = Query(f"DELETE FROM responses WHERE id IN ({_KEPT} {_UNNEEDED} LIMIT :batch)")
# One key for "the purge": a transaction-scoped lock, released when the statement commits. Its
# rows say how many went (it runs as ``PostgresDatabase.scanning``, a fetch).
_DELETE_LOCKED = Query(
    f"DELETE FROM responses WHERE id IN ({_KEPT} {_UNNEEDED} LIMIT :batch)"
    " AND (SELECT pg_try_advisory_xact_lock(7244851)) RETURNING 1"
)
# A conversation goes once it is older than the cutoff and no response younger than that was
# made in it; then the responses it referenced are needed no more either.
_OLD_CONVERSATIONS = """
    FROM conversations WHERE created_at < :cutoff AND NOT EXISTS (
        SELECT 1 FROM conversation_items ci JOIN responses r ON r.id = ci.response_id
        WHERE ci.conversation_id = conversations.id AND r.created_at >= :cutoff)"""
_DELETE_CONVERSATIONS = Query(f"DELETE {_OLD_CONVERSATIONS}")
_COUNT_CONVERSATIONS = Query(f"SELECT count(*) {_OLD_CONVERSATIONS}")
# Each batch finds what stays again, so fewer batches are less work; but a batch holds its locks
# for its whole statement. SQLite's write lock is the whole database's, holding every save back;
# PostgreSQL's are on the removed rows alone, which nothing else uses.
_BATCH_SQLITE = 500
_BATCH_POSTGRES = 5000


class RetentionStore:
    def __init__(self, database: Database) -> None:
        self._database = database
        # PostgreSQL plans these with hash joins (``scanning``): they read whole tables.
        self._postgres = database if isinstance(database, PostgresDatabase) else None
        self._scan = database.fetch if self._postgres is None else self._postgres.scanning
        self.batch = _BATCH_SQLITE if self._postgres is None else _BATCH_POSTGRES

    async def count_unneeded(self, cutoff: int) -> int:
        """Responses that would go now (those of conversations that would go are not counted)."""
        rows = await self._scan(_COUNT, {"cutoff": cutoff})
        return int(rows[0][0])

    async def count_old_conversations(self, cutoff: int) -> int:
        if not cutoff:
            return 0
        rows = await self._database.fetch(_COUNT_CONVERSATIONS, {"cutoff": cutoff})
        return int(rows[0][0])

    async def purge_conversations(self, cutoff: int) -> int:
        """Old conversations (their items with them); none with retention off (cutoff 0)."""
        if not cutoff:
            return 0
        return await self._database.execute(_DELETE_CONVERSATIONS, {"cutoff": cutoff})

    async def purge(self, cutoff: int) -> int:
        """Remove what is not needed; the number of responses removed. A batch that removes
        nothing ends it (done, or another replica holds the lock)."""
        removed = 0
        params = {"cutoff": cutoff, "batch": self.batch}
        while True:
            if self._postgres is not None:
                count = len(await self._scan(_DELETE_LOCKED, params))
            else:
                count = await self._database.execute(_DELETE, params)
            removed += count
            if count < self.batch:
                return removed
