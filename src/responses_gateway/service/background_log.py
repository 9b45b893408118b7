"""``EventLog``: the event sink of a background run, and what its readers follow.

It takes the place of the SSE encoder: each event is numbered and encoded the moment it is
emitted (the items it holds change later), kept in memory for readers on this replica, and written
to ``background_events`` in batches, every ``GATEWAY_BACKGROUND_BATCH_INTERVAL``, one transaction
per batch and not per token. The batch also carries the Response so far (status and the items
finished), when it changed, which is what ``retrieve`` shows while the response runs.

The final Response and the last batch, terminal event included, are written together
(``end``), so a reader on any replica always sees the log end with the stored status.
"""

from __future__ import annotations

from typing import Any

import anyio
import orjson

from responses_gateway import events
from responses_gateway.errors import StoreUnavailable
from responses_gateway.events import Event
from responses_gateway.orchestrator.state import ResponseState
from responses_gateway.store.jobs import JobStore, LoggedEvent

TERMINAL_EVENTS = frozenset({"response.completed", "response.failed", "response.incomplete"})


class LeaseLost(StoreUnavailable):
    """This replica may not store the run any more: another took it over (its lease expired),
    or the process is shutting down. The service stores nothing then, as when the database is
    down; whoever holds the job now ends it."""


def encode(event: Event, sequence_number: int) -> LoggedEvent:
    event["sequence_number"] = sequence_number
    return LoggedEvent(sequence_number, event["type"], orjson.dumps(event).decode())


def terminal(response: dict[str, Any], sequence_number: int) -> LoggedEvent:
    """The last event of a background stream. The SDK knows no ``response.cancelled`` event: a
    cancelled response ends with ``response.failed`` whose Response says ``cancelled``."""
    status = response["status"]
    kind = "failed" if status == "cancelled" else status
    return encode(events.lifecycle(kind, response), sequence_number)


def progress(state: ResponseState) -> dict[str, Any]:
    """The Response so far: only finished items (a half-streamed one is still changing)."""
    response = state.snapshot()
    response["output"] = [item for i, item in enumerate(state.output) if i in state.finished]
    return response


class EventLog:
    def __init__(self, jobs: JobStore, replica: str, state: ResponseState, first: int) -> None:
        self._jobs = jobs
        self._replica = replica
        self._state = state
        self.first = first  # the first sequence number this run emits
        self.events: list[LoggedEvent] = []
        self._written = 0  # events[:_written] are in the database
        self._shown: tuple[str, int] = ("", -1)  # (status, finished items) last logged
        self._lock = anyio.Lock()
        self._grew: anyio.Event | None = None  # made when a reader waits (7 µs to make one)
        self.ended = False
        self.abandoned = False  # stopped without an end of its own (shutdown, lease lost)

    def __call__(self, event: Event) -> None:
        if self.ended or self.abandoned or event["type"] == "response.created":
            return  # created is logged at queue time; produce's terminal event after ``end``
        self._append(encode(event, self.first + len(self.events)))

    def _append(self, logged: LoggedEvent) -> None:
        self.events.append(logged)
        if self._grew is not None:
            self._grew.set()
            self._grew = None

    def after(self, sequence_number: int) -> list[LoggedEvent]:
        """Events after ``sequence_number`` (at least ``first - 1``)."""
        return self.events[max(sequence_number + 1 - self.first, 0) :]

    async def wait(self, timeout: float) -> None:
        if self._grew is None:
            self._grew = anyio.Event()
        grew = self._grew
        with anyio.move_on_after(timeout):
            await grew.wait()

    async def flush(self) -> None:
        """Write what is new; a lost lease stops the run (raises ``LeaseLost``)."""
        async with self._lock:
            batch = self.events[self._written :]
            if not batch or self.ended:
                return
            shown = (self._state.status, len(self._state.finished))
            snapshot = progress(self._state) if shown != self._shown else None
            with anyio.CancelScope(shield=True):  # a write under way is finished, never torn
                kept = await self._jobs.log(self._replica, self._state.id, batch, snapshot)
            if not kept:
                self.abandoned = True
                raise LeaseLost
            self._written += len(batch)
            self._shown = shown

    async def end(self, response: dict[str, Any]) -> int:
        """The ``saver`` of the run: the final Response, the rest of the log and its terminal
        event, in one transaction. Returns the size of the output (for the history cache)."""
        async with self._lock:
            if self.abandoned:
                raise LeaseLost
            self._append(terminal(response, self.first + len(self.events)))
            with anyio.CancelScope(shield=True):
                ended = await self._jobs.end(
                    "holder", response, self.events[self._written :], replica=self._replica
                )
            self.ended = True
            if not ended:
                self.abandoned = True
                raise LeaseLost
            self._written = len(self.events)
        return sum(len(orjson.dumps(item)) for item in response["output"])
