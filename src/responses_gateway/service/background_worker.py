"""``Worker``: one per process; claims queued background jobs, runs them, holds their leases.

One loop ticks every ``GATEWAY_BACKGROUND_POLL_INTERVAL`` (and at once when this replica queues a
job): it claims queued jobs while fewer than ``GATEWAY_BACKGROUND_CONCURRENCY`` run here, reads the
cancel flags of the jobs it runs (one query per tick for all of them, only while some run), renews
all its leases in one statement every third of ``GATEWAY_BACKGROUND_LEASE``, and takes over the
jobs whose lease expired (see ``takeover``). Measured (``bench/background.py``): this poll finds a
cancel as fast as PostgreSQL ``LISTEN/NOTIFY`` within the tick, works on SQLite too and needs no
connection held per replica, so it is the one way.

A run is ``ResponsesService.produce`` with an ``EventLog`` as its sink and its saver: the same turn
loop as any create, so background runs chain and use MCP tools like any other.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.abc import TaskGroup

from responses_gateway.config import Settings
from responses_gateway.errors import GatewayError, StoreUnavailable
from responses_gateway.observability import metrics
from responses_gateway.orchestrator.state import ResponseState
from responses_gateway.orchestrator.turn_loop import fail
from responses_gateway.schemas.request import CreateResponseRequest
from responses_gateway.service.background_log import EventLog, LeaseLost, terminal
from responses_gateway.service.background_takeover import OPENING, take_over
from responses_gateway.service.responses_service import PreparedTurn, ResponsesService
from responses_gateway.store.jobs import ClaimedJob, JobStore

log = logging.getLogger("responses_gateway")


@dataclass
class Run:
    """A background response running on this replica."""

    log: EventLog
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)

    def cancel(self) -> None:
        self.scope.cancel()


class Worker:
    def __init__(
        self,
        service: ResponsesService,
        jobs: JobStore,
        settings: Settings,
        draining: Callable[[], bool] = lambda: False,
    ) -> None:
        self.replica = replica_id()
        self._draining = draining  # a draining process claims nothing new; its runs go on
        self.runs: dict[str, Run] = {}
        self._service = service
        self._jobs = jobs
        self._settings = settings
        self._lease_ms = int(settings.background_lease * 1000)
        self._offered: dict[str, tuple[PreparedTurn, str]] = {}  # queued here, not yet claimed
        self._wake = anyio.Event()
        self._group: TaskGroup | None = None

    def offer(self, prepared: PreparedTurn, owner: str) -> None:
        """A job this replica queued: it is claimed by the next tick, here or (without MCP
        tools) by any replica; if here, the prepared turn is used as it is."""
        self._offered[prepared.state.id] = (prepared, owner)
        self._wake.set()

    def forget(self, response_id: str) -> None:
        self._offered.pop(response_id, None)

    async def serve(self, group: TaskGroup) -> None:
        """The tick loop, until the task group is cancelled (the app's lifespan ends)."""
        self._group = group
        renewed = reaped = 0.0
        while True:
            with anyio.move_on_after(self._settings.background_poll_interval):
                await self._wake.wait()
            self._wake = anyio.Event()
            now = time.monotonic()
            try:
                await self._claim()
                if self.runs:
                    for response_id in await self._jobs.cancel_requested(self.replica):
                        if response_id in self.runs:
                            self.runs[response_id].cancel()
                if now - renewed > self._settings.background_lease / 3:
                    renewed = now
                    if self.runs or self._offered:
                        await self._jobs.renew(self.replica, self._lease_ms)
                if now - reaped > min(self._settings.background_lease / 2, 5.0):
                    reaped = now
                    await self._reap()
            except StoreUnavailable:
                continue  # logged by the store; the next tick tries again
            except Exception:
                log.exception("background worker tick failed")

    async def _claim(self) -> None:
        free = self._settings.background_concurrency - len(self.runs)
        if free <= 0 or self._draining():
            return
        for job in await self._jobs.claim(self.replica, free, self._lease_ms):
            offered = self._offered.pop(job.response_id, None)
            try:
                prepared, owner = offered or await self._prepare(job)
            except Exception as exc:  # ended here, or a takeover would requeue it forever
                if not isinstance(exc, GatewayError):
                    log.exception("background response %s cannot be prepared", job.response_id)
                    exc = GatewayError(
                        f"The queued request could not be run ({type(exc).__name__})."
                    )
                await self._fail_unprepared(job, exc)
                continue
            first = OPENING + 1 if offered else await self._first(job)
            run = Run(EventLog(self._jobs, self.replica, prepared.state, first))
            prepared.saver = run.log.end
            self.runs[job.response_id] = run
            assert self._group is not None
            self._group.start_soon(self._run, run, prepared, owner)

    async def _first(self, job: ClaimedJob) -> int:
        view = await self._jobs.job(job.owner, job.response_id)
        return (view.emitted if view else OPENING) + 1

    async def _prepare(self, job: ClaimedJob) -> tuple[PreparedTurn, str]:
        """Rebuild a job queued by another replica (or rerun after a takeover)."""
        if job.request is None:
            raise GatewayError("The replica that queued this background response stopped.")
        request = CreateResponseRequest.model_validate(job.request)
        prepared = await self._service.prepare(request, job.owner)
        view = await self._jobs.job(job.owner, job.response_id)
        queued = view.progress if view and view.progress else {}
        prepared.state = ResponseState(
            id=job.response_id,
            echo=prepared.state.echo,
            created_at=queued.get("created_at", prepared.state.created_at),
        )
        return background_turn(prepared), job.owner

    async def _fail_unprepared(self, job: ClaimedJob, exc: GatewayError) -> None:
        """A job that cannot even start (its previous response was deleted meanwhile, …)."""
        view = await self._jobs.job(job.owner, job.response_id)
        if view is None or view.progress is None:
            return
        state = ResponseState(id=job.response_id, echo={})
        fail(state, exc)
        response = view.progress | {"status": "failed", "error": state.error}
        await self._jobs.end(
            "holder", response, [terminal(response, view.emitted + 1)], replica=self.replica
        )

    async def _run(self, run: Run, prepared: PreparedTurn, owner: str) -> None:
        response_id = prepared.state.id
        metrics.BACKGROUND_JOBS.inc()
        try:
            with run.scope:
                async with anyio.create_task_group() as group:
                    group.start_soon(self._flush_until_done, run)
                    await self._service.produce(prepared, owner, run.log)
                    group.cancel_scope.cancel()
        finally:
            metrics.BACKGROUND_JOBS.dec()
            self.runs.pop(response_id, None)
            self._wake.set()  # a slot is free

    async def _flush_until_done(self, run: Run) -> None:
        while True:
            await anyio.sleep(self._settings.background_batch_interval / 2)
            try:
                await run.log.flush()
            except LeaseLost:
                run.cancel()
                return
            except StoreUnavailable:
                continue  # the events stay in memory; the next batch carries them

    async def _reap(self) -> None:
        retention = int(self._settings.background_event_retention * 1000)
        await self._jobs.sweep(retention)
        for job in await self._jobs.expired():
            await take_over(self._jobs, job)
        for response_id, (_, owner) in list(self._offered.items()):
            # Claimed elsewhere, or cancelled while queued through another replica.
            view = await self._jobs.job(owner, response_id)
            if view is None or view.status != "queued":
                self.forget(response_id)

    async def close(self) -> None:
        """Shutting down: stop the runs without ending them, and give their leases up at once,
        so another replica takes them over now rather than when the leases expire."""
        for run in list(self.runs.values()):
            run.log.abandoned = True
            run.cancel()
        with anyio.CancelScope(shield=True), contextlib.suppress(StoreUnavailable):
            await self._jobs.renew(self.replica, -self._lease_ms)


def replica_id() -> str:
    """Names this process in ``lease_owner``: host and pid for operators, random for restarts."""
    return f"{socket.gethostname()[:24]}-{os.getpid()}-{os.urandom(4).hex()}"


def background_turn(prepared: PreparedTurn) -> PreparedTurn:
    """A background run always streams from the upstream: its events are logged for readers
    and its progress shown, whether or not the create asked for a stream."""
    turn = prepared.turn
    turn.request = turn.request.model_copy(update={"stream": True})
    return prepared


def stored_request(request: CreateResponseRequest) -> dict[str, Any] | None:
    """The request as the job row keeps it, for any replica to run; None when it has MCP tools,
    whose URLs and credentials are never stored: only the replica that took it runs it."""
    if any(tool.type != "function" for tool in request.tools):
        return None
    return request.model_dump(mode="json", by_alias=True, exclude_unset=True)
