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

_NEEDED = """
    WITH RECURSIVE needed(id, prev) AS (
        SELECT id, previous_response_id FROM responses
        WHERE (NOT deleted AND created_at >= :cutoff)
            OR id IN (SELECT response_id FROM conversation_items WHERE response_id IS NOT NULL)
        UNION
        SELECT r.id, r.previous_response_id FROM responses r JOIN needed n ON r.id = n.prev
    )"""
_UNNEEDED = """
    SELECT id FROM responses
    WHERE (deleted OR created_at < :cutoff) AND id NOT IN (SELECT id FROM needed)"""

_COUNT = Query(f"{_NEEDED} SELECT count(*) FROM ({_UNNEEDED}) AS unneeded")
# The statement starts with DELETE (the CTE inside), so that sqlite3 reports the rows it removed.
_DELETE = Query(f"DELETE FROM responses WHERE id IN ({_NEEDED} {_UNNEEDED} LIMIT :batch)")
# One key for "the purge": a transaction-scoped lock, released when the statement commits.
_DELETE_LOCKED = Query(
    f"DELETE FROM responses WHERE id IN ({_NEEDED} {_UNNEEDED} LIMIT :batch)"
    " AND (SELECT pg_try_advisory_xact_lock(7244851))"
)
# A conversation goes once it is older than the cutoff and no response younger than that was
# made in it; then the responses it referenced are needed no more either.
_OLD_CONVERSATIONS = """
    FROM conversations WHERE created_at < :cutoff AND NOT EXISTS (
        SELECT 1 FROM conversation_items ci JOIN responses r ON r.id = ci.response_id
        WHERE ci.conversation_id = conversations.id AND r.created_at >= :cutoff)"""
_DELETE_CONVERSATIONS = Query(f"DELETE {_OLD_CONVERSATIONS}")
_COUNT_CONVERSATIONS = Query(f"SELECT count(*) {_OLD_CONVERSATIONS}")
_BATCH = 500


class RetentionStore:
    def __init__(self, database: Database) -> None:
        self._database = database
        self._delete = _DELETE_LOCKED if isinstance(database, PostgresDatabase) else _DELETE

    async def count_unneeded(self, cutoff: int) -> int:
        """Responses that would go now (those of conversations that would go are not counted)."""
        rows = await self._database.fetch(_COUNT, {"cutoff": cutoff})
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
        while True:
            count = await self._database.execute(self._delete, {"cutoff": cutoff, "batch": _BATCH})
            removed += count
            if count < _BATCH:
                return removed
