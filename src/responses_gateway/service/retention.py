"""Retention: stored responses older than ``GATEWAY_RETENTION_DAYS`` are removed for good.

A background task in every replica runs the purge every ``GATEWAY_RETENTION_INTERVAL`` seconds
(PostgreSQL: an advisory lock lets one replica at a time do a batch); ``responses-gateway purge``
runs it by hand. What "needed" means is in ``store/retention.py``. The history cache cannot
serve a purged response: every cached chain is confirmed against the database before use.
"""

from __future__ import annotations

import logging
import random
import time

import anyio

from responses_gateway.store.retention import RetentionStore

log = logging.getLogger("responses_gateway")
DAY = 86400.0


def cutoff_for(older_than_seconds: float | None, now: float | None = None) -> int:
    """The ``created_at`` below which responses may go; 0 removes only unneeded tombstones."""
    if not older_than_seconds:
        return 0
    return int((now if now is not None else time.time()) - older_than_seconds)


async def purge_once(store: RetentionStore, older_than_seconds: float | None) -> int:
    removed = await store.purge(cutoff_for(older_than_seconds))
    if removed:
        log.warning("retention: removed %d stored response(s)", removed)
    return removed


async def purge_periodically(store: RetentionStore, days: float, interval: float) -> None:
    """Never returns; a failed run is logged and tried again next interval."""
    await anyio.sleep(random.uniform(0, min(interval, 60.0)))  # replicas do not start in step
    while True:
        try:
            await purge_once(store, days * DAY)
        except Exception:
            log.exception("retention: the purge failed; trying again in %.0f s", interval)
        await anyio.sleep(interval)
