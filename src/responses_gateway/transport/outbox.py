"""The frames of one connection waiting for its reader, bounded in bytes.

Producers (the orchestrators of the connection's running responses) emit synchronously and must
never wait on a slow reader while they hold an upstream stream open, exactly as with SSE. So the
bound is a policy, not a wait: a reader that lets more than the budget pile up (on top of what
the kernel and uvicorn's transport buffer already hold) is cut off, its responses stopped and
stored as ``cancelled`` as for a disconnect. A reader that keeps up never sees the bound.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable

SendText = Callable[[str], Awaitable[None]]


class Outbox:
    def __init__(self, budget_bytes: float, on_overflow: Callable[[], None]) -> None:
        """``budget_bytes``: ``math.inf`` for no bound."""
        self._budget = budget_bytes
        self._on_overflow = on_overflow
        self._frames: collections.deque[bytes] = collections.deque()
        self._queued = 0
        # asyncio's Event, not anyio's: measured, ~15,000 fewer instructions a wait (anyio's
        # wraps it); anyio's cancel scopes cancel a wait on either.
        self._ready = asyncio.Event()
        self._closed = False
        self.overflowed = False
        self.close_code, self.close_reason = 1000, ""

    def put(self, frame: bytes) -> None:
        if self._closed:
            return
        if not self._frames:
            self._ready.set()  # the reader waits only on an empty outbox
        self._frames.append(frame)
        self._queued += len(frame)
        if self._queued > self._budget:
            self.overflowed = self._closed = True
            self.close_code, self.close_reason = 1008, "the client read too slowly"
            self._frames.clear()
            self._on_overflow()

    def close(self) -> None:
        """No more frames: ``pump`` returns once the queued ones are sent."""
        self._closed = True
        self._ready.set()

    def close_with(self, code: int, reason: str) -> None:
        """The close frame to send once the queued frames are out (unless it overflowed)."""
        if not self.overflowed:
            self.close_code, self.close_reason = code, reason

    @property
    def closed(self) -> bool:
        return self._closed

    async def wait(self) -> None:
        """Until a frame waits or the outbox is closed."""
        if not self._frames and not self._closed:
            self._ready.clear()
            await self._ready.wait()

    def take(self, last: bytes = b"") -> bytes:
        """Every frame waiting, joined, in order (for a byte stream, where frames have no edges),
        then ``last``: one join, not a join and a concatenation that copies them all again."""
        if last:
            self._frames.append(last)
        frames = b"".join(self._frames)
        self._frames.clear()
        self._queued = 0
        return frames

    async def pump(self, send: SendText) -> None:
        """Send frames in order, each as one text message, until closed and drained."""
        while True:
            while self._frames:
                frame = self._frames.popleft()
                await send(frame.decode())
                self._queued -= len(frame)
            if self._closed:
                return
            await self.wait()
