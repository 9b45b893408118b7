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
import contextlib
import queue
import threading
from collections.abc import Callable
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
        # A thread of its own fed by a SimpleQueue (C), not a ThreadPoolExecutor: the executor's
        # submit, work item and Python-level semaphore and condition cost ~25 K instructions
        # per write (measured with callgrind: see ``_serve``).
        self._queue: queue.SimpleQueue[_Unit | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="sqlite-writer", daemon=True)
        self._thread.start()

    async def run(self, work: Callable[[], T]) -> T:
        """``work`` inside a transaction on the writer connection, committed before this
        returns; its exception (after its changes were rolled back) is raised here."""
        loop = asyncio.get_running_loop()
        unit = _Unit(work, loop, loop.create_future())
        self._queue.put(unit)
        result: T = await unit.future
        return result

    def close(self) -> None:
        """Commits what is queued, then stops the thread."""
        self._queue.put(None)
        self._thread.join()

    def _serve(self) -> None:
        """Takes every unit waiting, commits them as one batch, and again, until ``close``.
        Daemonic: a process that exits without ``close`` loses no committed write (a commit
        cut short is rolled back by SQLite), and its callers were never told it landed."""
        get, empty = self._queue.get, self._queue.empty
        while True:
            batch = [get()]
            while not empty():  # one consumer: not empty means a get that does not block
                batch.append(get())
            units = [unit for unit in batch if unit is not None]
            if units:
                self._drain(units)
            if len(units) < len(batch):
                return

    def _drain(self, batch: list[_Unit]) -> None:
        try:
            self._commit(batch)
        except BaseException as exc:  # BEGIN or COMMIT failed: nothing of the batch is written
            for unit in batch:
                unit.error = unit.error or exc
        for loop in {unit.loop for unit in batch}:
            with contextlib.suppress(RuntimeError):  # that loop is closed: no one is waiting
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
