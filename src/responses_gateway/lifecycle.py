"""The process's own state for restarts: the requests in flight, and whether it drains.

On SIGTERM the process drains: ``/readyz`` answers 503 so the load balancer stops sending, new
requests get a 503 with ``Retry-After`` and ``Connection: close``, and requests in flight get up
to ``GATEWAY_SHUTDOWN_GRACE`` seconds to finish. What still runs then is cancelled, which stores
a stream as ``cancelled`` exactly as a client disconnect does; only then is uvicorn told to stop.
The handler wraps uvicorn's own, so it works the same with one process or ``--workers N``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
import weakref
from collections.abc import Callable
from types import FrameType
from typing import Any

from responses_gateway.observability import metrics

log = logging.getLogger("responses_gateway")
_CANCELLED_SAVE_WAIT = 10.0  # a cancelled stream stores what it finished: let it
Handler = Callable[[int, FrameType | None], Any]


class Lifecycle:
    def __init__(self) -> None:
        self.draining = False
        self._tasks: set[asyncio.Task[Any]] = set()
        _LIVES.add(weakref.ref(self, _LIVES.discard))

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def started(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        if _COUNT_EACH:
            metrics.IN_FLIGHT.inc()

    def ended(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.discard(task)
        if _COUNT_EACH:
            metrics.IN_FLIGHT.dec()

    async def drain(self, grace: float) -> int:
        """Refuse new work, give what is in flight ``grace`` seconds, then cancel the rest and
        wait for it to store what it finished. Returns how many had to be cancelled."""
        self.draining = True
        log.warning("draining: up to %.0f s for %d request(s)", grace, self.in_flight)
        deadline = time.monotonic() + grace
        while self._tasks and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        left = [task for task in self._tasks if not task.done()]
        if left:
            log.warning("grace over: cancelling %d request(s)", len(left))
            for task in left:
                task.cancel()
            await asyncio.wait(left, timeout=_CANCELLED_SAVE_WAIT)
        return len(left)

    def drain_on_signals(self, grace: float) -> None:
        """Put a drain in front of the server's SIGTERM/SIGINT handlers (main thread only: a
        server run in a thread, as in tests, has no signals). A second signal exits at once."""
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(sig)
            if callable(previous):
                signal.signal(sig, self._handler(loop, grace, previous))

    def _handler(self, loop: asyncio.AbstractEventLoop, grace: float, previous: Handler) -> Handler:
        def on_signal(signum: int, frame: FrameType | None) -> None:
            if self.draining:
                previous(signum, frame)
                return
            self.draining = True

            async def drain_then_exit() -> None:
                await self.drain(grace)
                previous(signum, None)

            loop.call_soon_threadsafe(lambda: loop.create_task(drain_then_exit()))

        return on_signal


# Every lifecycle of the process, each dropping out as it goes. A scrape may run on another
# thread than one making or dropping a lifecycle (apps in test threads, an embedding): a copy
# of a built-in set is one step whatever the others do meanwhile, where iterating a WeakSet
# raised "Set changed size during iteration".
_LIVES: set[weakref.ref[Lifecycle]] = set()


def _in_flight() -> float:
    return sum(life.in_flight for ref in _LIVES.copy() if (life := ref()) is not None)


# The requests-in-flight gauge, counted per request (an inc and a dec, a lock each), was ~0.01 M
# instructions of a 0.81 M ``store: false`` request (callgrind): one process reads it from the
# lifecycles' task sets when scraped instead. Worker processes share their samples through
# files (metrics.py), so there each still writes its own; decided at import, as the library is.
_COUNT_EACH = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
if not _COUNT_EACH:
    metrics.IN_FLIGHT.set_function(_in_flight)

_PROCESS = Lifecycle()


def process_lifecycle() -> Lifecycle:
    """This worker process's lifecycle: shared by its app and its signal handlers."""
    return _PROCESS
