"""One WebSocket connection: read client events, run each ``response.create`` in its lane,
send every event as a frame, and end the connection at its time limit.

How it ends: the client closes or goes away (running responses are cancelled as for an SSE
disconnect: upstream stopped, finished items stored as ``cancelled``); the reader falls too far
behind (``Outbox``: the same cancellation, then close 1008); the connection reaches
``max_seconds`` (running responses cancelled, an ``error`` event with code
``websocket_connection_limit_reached``, then close 1000); or the process drains (new
``response.create`` refused with ``shutting_down``, running ones finish within the drain's grace
as HTTP requests do, then close 1012 so the client reconnects to another replica).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

import anyio
from starlette.websockets import WebSocket, WebSocketDisconnect

from responses_gateway.config import Settings
from responses_gateway.errors import GatewayError, InvalidRequest
from responses_gateway.lifecycle import Lifecycle
from responses_gateway.service.responses_service import PreparedTurn, ResponsesService
from responses_gateway.transport.frames import (
    ClientEvent,
    FrameEncoder,
    create_request,
    error_frame,
    lane_of,
    read_event,
)
from responses_gateway.transport.lanes import Lanes
from responses_gateway.transport.local_chain import LocalResponses
from responses_gateway.transport.outbox import Outbox

log = logging.getLogger("responses_gateway")
_CLOSE_TIMEOUT = 5.0  # seconds to get a close frame past a reader that stopped reading
_WAITING_PER_LANE = 8
_DRAIN_POLL = 0.5  # seconds between looks at whether the process drains
# What sending on a socket the client has left raises (uvicorn's ClientDisconnected is an OSError).
_GONE = (OSError, WebSocketDisconnect, RuntimeError)


@dataclass(frozen=True)
class ConnectionLimits:
    max_lanes: int = 8
    max_seconds: float = 3600.0
    send_buffer_bytes: int = 4096 * 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        return cls(
            max_lanes=settings.ws_max_lanes,
            max_seconds=settings.ws_max_connection_seconds,
            send_buffer_bytes=settings.ws_send_buffer_kb * 1024,
        )


def connection_limit_reached(limits: ConnectionLimits) -> InvalidRequest:
    return InvalidRequest(
        f"This connection reached its limit of {limits.max_seconds:g} seconds; open a new one.",
        code="websocket_connection_limit_reached",
    )


def shutting_down() -> GatewayError:
    return GatewayError(
        "The server is restarting: retry the request.", code="shutting_down", status_code=503
    )


class Connection:
    def __init__(
        self, service: ResponsesService, owner: str, life: Lifecycle, outbox: Outbox
    ) -> None:
        self._service = service
        self._owner = owner
        self._life = life
        self._outbox = outbox
        self._local = LocalResponses()

    async def receive_all(self, websocket: WebSocket, lanes: Lanes) -> None:
        """Until the client closes: each message is dispatched at once (never awaited on)."""
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            lane: str | None = None
            try:
                event = read_event(message.get("text") or message.get("bytes"))
                lane = lane_of(event)
                self._dispatch(event, lane, lanes)
            except GatewayError as exc:
                self._outbox.put(error_frame(exc, lane))

    def _dispatch(self, event: ClientEvent, lane: str | None, lanes: Lanes) -> None:
        kind = event["type"]
        if kind == "response.create":
            if self._life.draining:
                raise shutting_down()
            lanes.submit(lane, event)
        elif kind == "response.steer":
            raise InvalidRequest(
                "response.steer is not supported by this gateway.",
                param="type",
                code="unsupported_event_type",
            )
        # Any other type (Codex's response.processed, future ones) is not for us: ignored.

    async def run(self, lane: str | None, event: ClientEvent) -> None:
        """One ``response.create``, start to end, in flight for the drain like an HTTP one."""
        self._life.started()
        try:
            await self._run(lane, event)
        finally:
            self._life.ended()

    async def _run(self, lane: str | None, event: ClientEvent) -> None:
        """Every failure is reported on the socket."""
        parent_id = event.get("previous_response_id")
        try:
            prepared, generate = await self._prepare(event)
        except GatewayError as exc:
            self._local.evict(parent_id)
            self._outbox.put(error_frame(exc, lane))
            return
        except Exception:
            log.exception("a WebSocket response.create failed unexpectedly")
            self._local.evict(parent_id)
            self._outbox.put(error_frame(GatewayError("The server had an error."), lane))
            return
        emit = FrameEncoder(self._outbox, lane)
        await self._service.produce(prepared, self._owner, emit, generate=generate)
        self._remember(lane, prepared)

    async def _prepare(self, event: ClientEvent) -> tuple[PreparedTurn, bool]:
        create = create_request(event)
        request = create.request
        parent = self._local.find(request.previous_response_id)
        if parent is not None and request.store:
            raise InvalidRequest(
                f"Response '{request.previous_response_id}' was not stored (store=false), so a "
                "response continuing it cannot be stored either: send store=false.",
                param="store",
                code="invalid_value",
            )
        prepared = await self._service.prepare(request, self._owner, parent=parent)
        return prepared, create.generate

    def _remember(self, lane: str | None, prepared: PreparedTurn) -> None:
        state = prepared.state
        if state.status == "failed":
            self._local.evict(prepared.turn.request.previous_response_id)
        elif not prepared.turn.request.store:
            turn = [*prepared.turn.items, *state.output]
            self._local.keep(lane, state.id, prepared.history.extended(turn, 0))
        else:
            self._local.forget_lane(lane)


async def serve(
    websocket: WebSocket,
    service: ResponsesService,
    owner: str,
    limits: ConnectionLimits,
    life: Lifecycle,
) -> None:
    """The accepted socket's whole life."""
    async with anyio.create_task_group() as group:
        outbox = Outbox(limits.send_buffer_bytes, on_overflow=group.cancel_scope.cancel)
        connection = Connection(service, owner, life, outbox)
        group.start_soon(_pump, websocket, outbox)
        with anyio.move_on_after(limits.max_seconds) as timer:
            async with anyio.create_task_group() as running:
                lanes = Lanes(
                    running,
                    connection.run,
                    max_running=limits.max_lanes,
                    max_waiting=limits.max_lanes * _WAITING_PER_LANE,
                )
                running.start_soon(_close_when_drained, life, lanes, outbox, running.cancel_scope)
                await connection.receive_all(websocket, lanes)
                running.cancel_scope.cancel()  # the client is gone: stop what it asked for
        if timer.cancelled_caught:
            outbox.put(error_frame(connection_limit_reached(limits), None))
        outbox.close()
    if outbox.overflowed:  # the pump may have been stopped mid-send: close here then
        with anyio.move_on_after(_CLOSE_TIMEOUT):
            await _close(websocket, outbox)


async def _close_when_drained(
    life: Lifecycle, lanes: Lanes, outbox: Outbox, scope: anyio.CancelScope
) -> None:
    """Once the process drains and nothing runs here, end the connection (1012: restarting)."""
    while not (life.draining and lanes.idle):
        await anyio.sleep(_DRAIN_POLL)
    outbox.close_with(1012, "the server is restarting")
    scope.cancel()


async def _pump(websocket: WebSocket, outbox: Outbox) -> None:
    try:
        await outbox.pump(websocket.send_text)
    except _GONE:
        return  # the client is gone; receive_all sees the disconnect and ends the rest
    await _close(websocket, outbox)


async def _close(websocket: WebSocket, outbox: Outbox) -> None:
    with contextlib.suppress(*_GONE):  # also a second close, after the pump's own
        await websocket.close(outbox.close_code, outbox.close_reason)
