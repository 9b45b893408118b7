"""SQLite's one writer: a thread that commits every write waiting for it in one transaction.

Group commit. Each write is a unit (a stored response with its items, a conversation append) that
must land whole or not at all; under load many wait while one commits. Taking all that wait into
one ``BEGIN IMMEDIATE … COMMIT``, each inside its own ``SAVEPOINT``, writes the shared B-tree
pages to the WAL once instead of once per unit and costs one thread hop per batch. Measured with
``bench/instructions.py`` and ``bench/run.py`` (stored creates at c=16): see the README's
benchmark section. A unit that fails is rolled back to its savepoint and only its caller gets
the error; a failed ``COMMIT`` fails every unit of the batch (none of it was written). A lone unit
runs without a savepoint, as before.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import sqlite3  # a PostgreSQL gateway never loads it

T = TypeVar("T")


@dataclass(slots=True)
class _Unit:
    work: Callable[[], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    result: Any = None
    error: BaseException | None = field(default=None)


class SqliteWriter:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._lock = threading.Lock()
        self._waiting: list[_Unit] = []
        self._drain_queued = False

    async def run(self, work: Callable[[], T]) -> T:
        """``work`` inside a transaction on the writer connection, committed before this
        returns; its exception (after its changes were rolled back) is raised here."""
        loop = asyncio.get_running_loop()
        unit = _Unit(work, loop, loop.create_future())
        with self._lock:
            self._waiting.append(unit)
            queue_drain = not self._drain_queued
            self._drain_queued = True
        if queue_drain:
            self._thread.submit(self._drain)
        result: T = await unit.future
        return result

    def close(self) -> None:
        self._thread.shutdown(wait=True)

    def _drain(self) -> None:
        with self._lock:
            batch, self._waiting = self._waiting, []
            self._drain_queued = False
        try:
            self._commit(batch)
        except BaseException as exc:  # BEGIN or COMMIT failed: nothing of the batch is written
            for unit in batch:
                unit.error = unit.error or exc
        for loop in {unit.loop for unit in batch}:
            loop.call_soon_threadsafe(_deliver, [unit for unit in batch if unit.loop is loop])

    def _commit(self, batch: list[_Unit]) -> None:
        execute = self._connection.execute
        execute("BEGIN IMMEDIATE")
        try:
            if len(batch) == 1:
                _attempt(batch[0])
            else:
                for unit in batch:
                    execute("SAVEPOINT unit")
                    if _attempt(unit):
                        execute("RELEASE unit")
                    else:
                        execute("ROLLBACK TO unit")
                        execute("RELEASE unit")
            if len(batch) == 1 and batch[0].error is not None:
                execute("ROLLBACK")
                return
            execute("COMMIT")  # a deferred constraint can fail here, leaving it open
        except BaseException:
            if self._connection.in_transaction:
                execute("ROLLBACK")
            raise


def _attempt(unit: _Unit) -> bool:
    try:
        unit.result = unit.work()
    except Exception as exc:
        unit.error = exc
        return False
    return True


def _deliver(units: list[_Unit]) -> None:
    for unit in units:
        if unit.future.cancelled():
            continue
        if unit.error is not None:
            unit.future.set_exception(unit.error)
        else:
            unit.future.set_result(unit.result)
