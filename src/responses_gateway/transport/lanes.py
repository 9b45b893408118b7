"""Lanes: the frames of one ``stream_id`` (or of none) run one after another, different lanes
at once, at most ``max_running`` of them, with at most ``max_waiting`` frames queued behind
running ones on the whole connection. A frame past either bound is refused, never dropped."""

from __future__ import annotations

import collections
from collections.abc import Awaitable, Callable
from typing import Any

from anyio.abc import TaskGroup

from responses_gateway.errors import InvalidRequest

Frame = dict[str, Any]
Runner = Callable[[str | None, Frame], Awaitable[None]]


class Lanes:
    def __init__(
        self, group: TaskGroup, run: Runner, *, max_running: int, max_waiting: int
    ) -> None:
        self._group = group
        self._run = run  # never raises: it reports its own failures on the socket
        self._max_running = max_running
        self._max_waiting = max_waiting
        self._waiting: dict[str | None, collections.deque[Frame]] = {}
        self._queued = 0

    def submit(self, lane: str | None, frame: Frame) -> None:
        waiting = self._waiting.get(lane)
        if waiting is not None:
            if self._queued >= self._max_waiting:
                raise InvalidRequest(
                    f"At most {self._max_waiting} response.create events may wait on one "
                    "connection; wait for a response to finish first.",
                    param="stream_id",
                    code="websocket_queue_full",
                )
            waiting.append(frame)
            self._queued += 1
            return
        if len(self._waiting) >= self._max_running:
            raise InvalidRequest(
                f"At most {self._max_running} lanes (stream_id values) may run at once on one "
                "connection.",
                param="stream_id",
                code="websocket_lane_limit_reached",
            )
        self._waiting[lane] = collections.deque()
        self._group.start_soon(self._drain, lane, frame)

    @property
    def idle(self) -> bool:
        return not self._waiting

    async def _drain(self, lane: str | None, frame: Frame) -> None:
        waiting = self._waiting[lane]
        try:
            while True:
                await self._run(lane, frame)
                if not waiting:
                    return
                frame = waiting.popleft()
                self._queued -= 1
        finally:  # also when cancelled (a drain's grace ran out): the lane is free again
            self._queued -= len(waiting)
            del self._waiting[lane]
