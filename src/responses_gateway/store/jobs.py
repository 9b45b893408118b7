"""``JobStore``: the SQL of background responses, their leases and their event logs.

A background response is a ``responses`` row written when it is queued (status ``queued``, its
input items with it), a ``background_jobs`` row that says who runs it, and ``background_events``,
its stream. Every change of hands is one guarded transaction (``Database.write(guarded=True)``):
the first statement moves the job only if it is still where the writer believes it is (queued, or
leased to this replica, or its lease expired), and nothing else is written if it is not. So two
replicas can never both finish, claim or take over one job.

Claiming: PostgreSQL takes queued jobs with ``FOR UPDATE SKIP LOCKED`` (replicas never wait on each
other's rows); SQLite has one writer at a time, so it picks candidates and moves each one with a
conditional ``UPDATE``. Times are milliseconds of the replicas' clocks (they must agree to well
under a lease, which NTP gives).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson

from responses_gateway.store.database import Database, Params, Query, SqliteDatabase, Step
from responses_gateway.store.responses import item_rows, response_row

ACTIVE = "('queued', 'in_progress')"

_ADD_RESPONSE = Query(
    """
    INSERT INTO responses (id, owner, previous_response_id, created_at, status, model, deleted, data)
    VALUES (:id, :owner, :previous_response_id, :created_at, :status, :model, FALSE, :data)
    """
)
_ADD_ITEM = Query(
    """
    INSERT INTO response_items (response_id, position, kind, item_id, data)
    VALUES (:response_id, :position, :kind, :item_id, :data)
    """
)
_ADD_JOB = Query(
    """
    INSERT INTO background_jobs (response_id, owner, status, request, lease_owner, lease_until,
        cancel_requested, emitted, progress, created_at)
    VALUES (:id, :owner, 'queued', :request, :lease_owner, :lease_until, FALSE, :emitted,
        :progress, :now)
    """
)
_ADD_EVENTS = Query(
    """
    INSERT INTO background_events (response_id, sequence_number, last_sequence_number, data)
    VALUES (:response_id, :sequence_number, :last_sequence_number, :data)
    """
)
_COUNT_QUEUED = Query("SELECT count(*) FROM background_jobs WHERE status = 'queued'")

_CLAIM_POSTGRES = Query(
    """
    UPDATE background_jobs SET status = 'in_progress', lease_owner = :replica, lease_until = :until
    WHERE response_id IN (
        SELECT response_id FROM background_jobs
        WHERE status = 'queued' AND (lease_owner IS NULL OR lease_owner = :replica)
        ORDER BY created_at LIMIT :limit
        FOR UPDATE SKIP LOCKED)
    RETURNING response_id, owner, request
    """
)
_CANDIDATES = Query(
    """
    SELECT response_id FROM background_jobs
    WHERE status = 'queued' AND (lease_owner IS NULL OR lease_owner = :replica)
    ORDER BY created_at LIMIT :limit
    """
)
_CLAIM_ONE = Query(
    """
    UPDATE background_jobs SET status = 'in_progress', lease_owner = :replica, lease_until = :until
    WHERE response_id = :id AND status = 'queued'
        AND (lease_owner IS NULL OR lease_owner = :replica)
    """
)
_CLAIMED = Query("SELECT response_id, owner, request FROM background_jobs WHERE response_id = :id")

_RENEW = Query(
    f"""
    UPDATE background_jobs SET lease_until = :until
    WHERE lease_owner = :replica AND status IN {ACTIVE}
    """
)
_CANCEL_REQUESTED = Query(
    """
    SELECT response_id FROM background_jobs
    WHERE lease_owner = :replica AND status = 'in_progress' AND cancel_requested
    """
)
_REQUEST_CANCEL = Query(
    """
    UPDATE background_jobs SET cancel_requested = TRUE
    WHERE response_id = :id AND owner = :owner AND status = 'in_progress'
    """
)
_JOB = Query(
    """
    SELECT status, progress, emitted, finished_at FROM background_jobs
    WHERE response_id = :id AND owner = :owner
    """
)
_PROGRESS = Query(
    """
    UPDATE background_jobs SET emitted = :emitted, progress = COALESCE(:progress, progress)
    WHERE response_id = :id AND lease_owner = :replica AND status = 'in_progress'
    """
)
_INPUT_COUNT = Query(
    "SELECT count(*) FROM response_items WHERE response_id = :id AND kind = 'input'"
)
_EXPIRED = Query(
    f"""
    SELECT response_id, request, emitted, progress, cancel_requested FROM background_jobs
    WHERE status IN {ACTIVE} AND lease_owner IS NOT NULL AND lease_until < :now
    ORDER BY lease_until LIMIT 16
    """
)
_REQUEUE = Query(
    """
    UPDATE background_jobs SET status = 'queued', lease_owner = NULL, lease_until = NULL
    WHERE response_id = :id AND status = 'in_progress' AND lease_until < :now
        AND emitted = :emitted
    """
)
_UPDATE_RESPONSE = Query("UPDATE responses SET status = :status, data = :data WHERE id = :id")
_SWEEP = Query(
    "DELETE FROM background_jobs WHERE finished_at IS NOT NULL AND finished_at < :cutoff"
)
_EVENTS_AFTER = Query(
    """
    SELECT data FROM background_events
    WHERE response_id = :id AND last_sequence_number > :after
    ORDER BY sequence_number LIMIT 100
    """
)

# PostgreSQL runs each guarded transaction below as one statement (one round trip; atomic without
# BEGIN and COMMIT), as ResponseStore.save does; SQLite runs the same steps as a transaction.
_BATCH_POSTGRES = """
    INSERT INTO background_events (response_id, sequence_number, last_sequence_number, data)
    SELECT {source}, :first::int, :emitted::int, :events::text FROM {table}
"""
_ENQUEUE_POSTGRES = Query(
    """
    WITH response AS (
        INSERT INTO responses
            (id, owner, previous_response_id, created_at, status, model, deleted, data)
        VALUES (:id, :owner, :previous_response_id, :created_at, :status, :model, FALSE, :data)
        RETURNING id
    ), items AS (
        INSERT INTO response_items (response_id, position, kind, item_id, data)
        SELECT response.id, item.position, 'input', item.item_id, item.data
        FROM response, unnest(:positions::int[], :item_ids::text[], :datas::text[])
            AS item(position, item_id, data)
    ), job AS (
        INSERT INTO background_jobs (response_id, owner, status, request, lease_owner,
            lease_until, cancel_requested, emitted, progress, created_at)
        SELECT response.id, :owner::varchar, 'queued', :request::text, :lease_owner::varchar,
            :lease_until::bigint, FALSE, :emitted::int, :progress::text, :now::bigint
        FROM response
        RETURNING response_id
    )"""
    + _BATCH_POSTGRES.format(source="response_id", table="job")
)
_LOG_POSTGRES = Query(
    """
    WITH kept AS (
        UPDATE background_jobs
        SET emitted = :emitted::int, progress = COALESCE(:progress::text, progress)
        WHERE response_id = :id AND lease_owner = :replica AND status = 'in_progress'
        RETURNING response_id
    )"""
    + _BATCH_POSTGRES.format(source="response_id", table="kept")
    + "RETURNING 1"
)

# Who may end a job: its lease holder, anyone while it is still queued (a cancel), or anyone
# once its lease has expired (a takeover).
_END_GUARDS = {
    "holder": "lease_owner = :replica AND status = 'in_progress'",
    "queued": "status = 'queued'",
    "expired": f"status IN {ACTIVE} AND lease_until < :now",
}
_END = {
    name: Query(
        f"""
        UPDATE background_jobs SET status = :status, finished_at = :now, emitted = :emitted,
            progress = NULL, request = NULL, lease_owner = NULL, lease_until = NULL
        WHERE response_id = :id AND {guard}
        """
    )
    for name, guard in _END_GUARDS.items()
}


# The output items go after the input ones: counted in the statement's own snapshot.
_END_POSTGRES = {
    name: Query(
        f"""
        WITH ended AS (
            UPDATE background_jobs SET status = :status, finished_at = :now::bigint,
                emitted = :emitted::int, progress = NULL, request = NULL, lease_owner = NULL,
                lease_until = NULL
            WHERE response_id = :id AND {guard}
            RETURNING response_id
        ), response AS (
            UPDATE responses SET status = :status, data = :data::text
            WHERE id IN (SELECT response_id FROM ended)
        ), items AS (
            INSERT INTO response_items (response_id, position, kind, item_id, data)
            SELECT ended.response_id, item.position + (
                    SELECT count(*) FROM response_items
                    WHERE response_id = :id AND kind = 'input'),
                'output', item.item_id, item.data
            FROM ended, unnest(:positions::int[], :item_ids::text[], :datas::text[])
                AS item(position, item_id, data)
        ), events AS ("""
        + _BATCH_POSTGRES.format(source="response_id", table="ended")
        + """)
        SELECT count(*) FROM ended
        """
    )
    for name, guard in _END_GUARDS.items()
}


def _columns(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Item rows as the arrays the PostgreSQL statements unnest."""
    return {
        "positions": [row["position"] for row in rows],
        "item_ids": [row["item_id"] for row in rows],
        "datas": [row["data"] for row in rows],
    }


def _batch(logged: list[LoggedEvent]) -> dict[str, Any]:
    return {
        "first": logged[0].sequence_number,
        "emitted": logged[-1].sequence_number,
        "events": "\n".join(event.data for event in logged),
    }


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class LoggedEvent:
    """One event of a background response's stream, already encoded."""

    sequence_number: int
    type: str
    data: str  # the event's JSON, sequence_number included


@dataclass
class ClaimedJob:
    response_id: str
    owner: str
    request: dict[str, Any] | None  # None: held in the memory of the replica that took it


@dataclass
class JobView:
    status: str
    progress: dict[str, Any] | None
    emitted: int
    finished: bool


@dataclass
class ExpiredJob:
    response_id: str
    request: str | None
    emitted: int
    progress: dict[str, Any] | None
    cancel_requested: bool


def _event_rows(response_id: str, logged: list[LoggedEvent]) -> list[Params]:
    """A batch as one row (none for an empty batch)."""
    if not logged:
        return []
    return [
        {
            "response_id": response_id,
            "sequence_number": logged[0].sequence_number,
            "last_sequence_number": logged[-1].sequence_number,
            "data": "\n".join(event.data for event in logged),
        }
    ]


class JobStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def queued_count(self) -> int:
        [(count,)] = await self._db.fetch(_COUNT_QUEUED, {})
        return int(count)

    async def enqueue(
        self,
        owner: str,
        response: dict[str, Any],
        input_items: list[dict[str, Any]],
        request: dict[str, Any] | None,
        opening: list[LoggedEvent],
        *,
        holder: str | None,
        lease_ms: int,
    ) -> None:
        """The queued response, its input, its job and the log's first events, atomically.
        ``holder`` pins a job whose request is not stored to the replica that has it."""
        now = now_ms()
        job = {
            "id": response["id"],
            "owner": owner,
            "request": None if request is None else orjson.dumps(request).decode(),
            "lease_owner": holder,
            "lease_until": now + lease_ms if holder else None,
            "emitted": opening[-1].sequence_number,
            "progress": orjson.dumps(response).decode(),
            "now": now,
        }
        inputs = item_rows(response["id"], [("input", item) for item in input_items])
        row = response_row(owner, response)
        if not isinstance(self._db, SqliteDatabase):
            params = row | job | _columns(inputs) | _batch(opening)
            await self._db.fetch(_ENQUEUE_POSTGRES, params)
            return
        await self._db.write(
            [
                (_ADD_RESPONSE, [row]),
                (_ADD_ITEM, inputs),
                (_ADD_JOB, [job]),
                (_ADD_EVENTS, _event_rows(response["id"], opening)),
            ]
        )

    async def claim(self, replica: str, limit: int, lease_ms: int) -> list[ClaimedJob]:
        params = {"replica": replica, "limit": limit, "until": now_ms() + lease_ms}
        if isinstance(self._db, SqliteDatabase):
            rows = []
            for (response_id,) in await self._db.fetch(_CANDIDATES, params):
                if await self._db.execute(_CLAIM_ONE, params | {"id": response_id}):
                    rows += await self._db.fetch(_CLAIMED, {"id": response_id})
        else:
            rows = await self._db.fetch(_CLAIM_POSTGRES, params)
        return [
            ClaimedJob(response_id, owner, None if request is None else orjson.loads(request))
            for response_id, owner, request in rows
        ]

    async def renew(self, replica: str, lease_ms: int) -> None:
        await self._db.execute(_RENEW, {"replica": replica, "until": now_ms() + lease_ms})

    async def cancel_requested(self, replica: str) -> list[str]:
        rows = await self._db.fetch(_CANCEL_REQUESTED, {"replica": replica})
        return [response_id for (response_id,) in rows]

    async def request_cancel(self, owner: str, response_id: str) -> bool:
        return await self._db.execute(_REQUEST_CANCEL, {"id": response_id, "owner": owner}) > 0

    async def job(self, owner: str, response_id: str) -> JobView | None:
        rows = await self._db.fetch(_JOB, {"id": response_id, "owner": owner})
        if not rows:
            return None
        status, progress, emitted, finished_at = rows[0]
        parsed = None if progress is None else orjson.loads(progress)
        return JobView(status, parsed, emitted, finished_at is not None)

    async def log(
        self,
        replica: str,
        response_id: str,
        logged: list[LoggedEvent],
        progress: dict[str, Any] | None,
    ) -> bool:
        """Append a batch of events (and the Response so far, when it changed); False when
        this replica no longer holds the job (its lease expired and another took it)."""
        update = {
            "id": response_id,
            "replica": replica,
            "emitted": logged[-1].sequence_number,
            "progress": None if progress is None else orjson.dumps(progress).decode(),
        }
        if not isinstance(self._db, SqliteDatabase):
            return bool(await self._db.fetch(_LOG_POSTGRES, update | _batch(logged)))
        steps: list[Step] = [(_PROGRESS, [update]), (_ADD_EVENTS, _event_rows(response_id, logged))]
        return bool(await self._db.write(steps, guarded=True))

    async def end(
        self,
        guard: str,
        response: dict[str, Any],
        logged: list[LoggedEvent],
        *,
        replica: str = "",
    ) -> bool:
        """Write the final Response (row and output items), the job's end and the last events,
        terminal one included, in one transaction; False if ``guard`` no longer holds."""
        response_id = response["id"]
        row = response_row("", response)
        end = {
            "id": response_id,
            "status": response["status"],
            "now": now_ms(),
            "emitted": logged[-1].sequence_number,
            "replica": replica,
        }
        output = [("output", item) for item in response["output"]]
        if not isinstance(self._db, SqliteDatabase):
            params = end | _columns(item_rows(response_id, output)) | _batch(logged)
            [(ended,)] = await self._db.fetch(_END_POSTGRES[guard], params | {"data": row["data"]})
            return bool(ended)
        [(inputs,)] = await self._db.fetch(_INPUT_COUNT, {"id": response_id})
        outputs = item_rows(response_id, output, inputs)
        steps: list[Step] = [
            (_END[guard], [end]),
            (_UPDATE_RESPONSE, [{"id": response_id, "status": row["status"], "data": row["data"]}]),
            (_ADD_ITEM, outputs),
            (_ADD_EVENTS, _event_rows(response_id, logged)),
        ]
        return bool(await self._db.write(steps, guarded=True))

    async def expired(self) -> list[ExpiredJob]:
        rows = await self._db.fetch(_EXPIRED, {"now": now_ms()})
        return [
            ExpiredJob(
                response_id,
                request,
                emitted,
                None if progress is None else orjson.loads(progress),
                bool(cancel),
            )
            for response_id, request, emitted, progress, cancel in rows
        ]

    async def requeue(self, response_id: str, emitted: int) -> bool:
        """Give an expired job back to the queue, if nothing was logged since it was queued."""
        params = {"id": response_id, "now": now_ms(), "emitted": emitted}
        return await self._db.execute(_REQUEUE, params) > 0

    async def sweep(self, retention_ms: int) -> int:
        """Drop the jobs (and event logs) of responses that ended over ``retention_ms`` ago."""
        return await self._db.execute(_SWEEP, {"cutoff": now_ms() - retention_ms})

    async def events_after(self, response_id: str, after: int) -> list[dict[str, Any]]:
        """The logged events after sequence number ``after``, decoded, in order."""
        rows = await self._db.fetch(_EVENTS_AFTER, {"id": response_id, "after": after})
        found = (orjson.loads(line) for (data,) in rows for line in data.split("\n"))
        return [event for event in found if event["sequence_number"] > after]
