"""``BackgroundService``: queue, retrieve, resume and cancel ``background: true`` responses.

A create is validated like any other (``ResponsesService.prepare``), then written as a queued
response with its job and the first two events of its stream (``response.created`` and
``response.queued``, both with status ``queued``: the SDK's stream helper wants ``created`` first),
and answered at once. The run happens in the ``Worker`` of whichever replica claims the job, and
goes on when the client goes away: a streamed create is only a reader of the job's event log, like
``GET /v1/responses/{id}?stream=true``.
"""

from __future__ import annotations

from typing import Any

import anyio
import orjson

from responses_gateway import events
from responses_gateway.config import Settings
from responses_gateway.errors import GatewayError, InvalidRequest, NotFound
from responses_gateway.orchestrator.state import TERMINAL
from responses_gateway.schemas.request import CreateResponseRequest
from responses_gateway.service.background_log import TERMINAL_EVENTS, encode, terminal
from responses_gateway.service.background_worker import Worker, background_turn, stored_request
from responses_gateway.service.responses_service import ResponsesService
from responses_gateway.sse import EventSink
from responses_gateway.store.jobs import JobStore

_SETTLE_STEP = 0.05  # seconds between looks at a response being cancelled


class QueueFull(GatewayError):
    """GATEWAY_BACKGROUND_MAX_QUEUED jobs are waiting: come back shortly."""

    status_code = 429
    type = "requests"
    headers = {"Retry-After": "1"}


class BackgroundService:
    def __init__(
        self, service: ResponsesService, jobs: JobStore, worker: Worker, settings: Settings
    ) -> None:
        self._service = service
        self._jobs = jobs
        self.worker = worker  # run by the app's lifespan
        self._settings = settings

    async def create(self, request: CreateResponseRequest, owner: str) -> dict[str, Any]:
        """Queue the response; returns it as queued (status ``queued``)."""
        if request.conversation is not None:
            # Its items would not be appended by a background run's save: refuse, never drop.
            raise InvalidRequest(
                "background=true cannot be combined with a conversation yet; use "
                "previous_response_id.",
                param="conversation",
            )
        if await self._jobs.queued_count() >= self._settings.background_max_queued:
            raise QueueFull(
                "Too many background responses are queued; retry shortly.",
                code="rate_limit_exceeded",
                param="background",
            )
        prepared = background_turn(await self._service.prepare(request, owner))
        state = prepared.state
        state.status = "queued"
        queued = state.snapshot()
        opening = [
            encode(events.lifecycle("created", queued), 0),
            encode(events.lifecycle("queued", queued), 1),
        ]
        stored = stored_request(request)
        await self._jobs.enqueue(
            owner,
            queued,
            prepared.turn.items,
            stored,
            opening,
            holder=None if stored is not None else self.worker.replica,
            lease_ms=int(self._settings.background_lease * 1000),
        )
        state.status = "in_progress"  # what its run starts with
        self.worker.offer(prepared, owner)
        return queued

    async def retrieve(self, owner: str, response_id: str) -> dict[str, Any]:
        """A stored response; one still running shows its status and finished items."""
        response = await self._service.get(owner, response_id)
        if not response.get("background") or response["status"] in TERMINAL:
            return response
        view = await self._jobs.job(owner, response_id)
        if view is None or view.finished or view.progress is None:
            return await self._service.get(owner, response_id)  # it ended meanwhile
        return view.progress | {"status": view.status}

    async def check_resumable(self, owner: str, response_id: str) -> None:
        """404 unless the response is a background one whose event log is still kept."""
        response = await self._service.get(owner, response_id)
        if not response.get("background"):
            raise NotFound(
                f"Response '{response_id}' was not created with background=true; only "
                "background responses can be streamed again.",
                param="stream",
            )
        if await self._jobs.job(owner, response_id) is None:
            raise NotFound(
                f"The event stream of response '{response_id}' is no longer kept (it is "
                "dropped some minutes after the response ends); retrieve it without stream.",
                param="stream",
            )

    async def follow(self, owner: str, response_id: str, after: int, emit: EventSink) -> None:
        """Emit the logged events after ``after``, then the live ones, to the terminal event.
        Read from this replica's memory while the run is here (each event at once), else from
        the database every half batch interval: the runner writes every half interval too, so
        no event waits longer than one interval for a reader on another replica."""
        interval = self._settings.background_batch_interval / 2
        while True:
            run = self.worker.runs.get(response_id)
            batch: list[dict[str, Any]]
            if run is not None and after >= run.log.first - 1:
                batch = [orjson.loads(event.data) for event in run.log.after(after)]
                if not batch:
                    await run.log.wait(interval)
                    continue
            else:
                batch = await self._jobs.events_after(response_id, after)
                if not batch:
                    view = await self._jobs.job(owner, response_id)
                    if view is None or (view.finished and view.emitted <= after):
                        return
                    await anyio.sleep(interval)
                    continue
            for event in batch:
                emit(event)
                after = event["sequence_number"]
                if event["type"] in TERMINAL_EVENTS:
                    return

    async def cancel(self, owner: str, response_id: str) -> dict[str, Any]:
        """Cancel a background response on any replica; a finished one is returned as is."""
        response = await self._service.get(owner, response_id)
        if not response.get("background"):
            raise InvalidRequest(
                "Only responses created with background=true can be cancelled; this response "
                "has already finished.",
                param="response_id",
                code="response_not_cancellable",
            )
        if response["status"] in TERMINAL:
            return response
        view = await self._jobs.job(owner, response_id)
        if view is not None and view.status == "queued" and view.progress is not None:
            cancelled = view.progress | {"status": "cancelled"}
            if await self._jobs.end("queued", cancelled, [terminal(cancelled, view.emitted + 1)]):
                self.worker.forget(response_id)
                return cancelled
        await self._jobs.request_cancel(owner, response_id)
        run = self.worker.runs.get(response_id)
        if run is not None:
            run.cancel()  # running here: no need to wait for the next tick
        return await self._settled(owner, response_id)

    async def _settled(self, owner: str, response_id: str) -> dict[str, Any]:
        """The response once its runner has stored it cancelled (or however it ended). The
        runner sees the flag within a poll interval; a dead one's job is ended by another
        replica within the lease, so that is the longest this waits."""
        settings = self._settings
        with anyio.move_on_after(settings.background_lease + 4 * settings.background_poll_interval):
            while True:
                response = await self._service.get(owner, response_id)
                if response["status"] in TERMINAL:
                    return response
                await anyio.sleep(_SETTLE_STEP)
        return await self.retrieve(owner, response_id)
