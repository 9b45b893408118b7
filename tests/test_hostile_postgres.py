"""PostgreSQL connections killed under load (issue 8's D3): every answer is a success or a 503
``store_unavailable`` in the envelope, never a 500, and the gateway recovers by itself.

PostgreSQL only: SQLite has no server connection to kill."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from responses_gateway.store.migrations import migrate
from tests.conftest import PG_ADMIN_URL, custom_gateway, scratch_postgres
from tests.support.upstream import ScriptedUpstream

_KILL = """
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE datname = $1 AND pid <> pg_backend_pid()
"""


def _killer(database: str, stop: threading.Event, killed: list[int]) -> None:
    async def run() -> None:
        import asyncpg

        connection = await asyncpg.connect(PG_ADMIN_URL)
        try:
            while not stop.is_set():
                killed.append(await connection.fetchval(_KILL, database))
                await asyncio.sleep(0.02)
        finally:
            await connection.close()

    asyncio.run(run())


def _client_work(base_url: str, rounds: int) -> list[httpx.Response]:
    answers = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        previous = None
        for n in range(rounds):
            body = {"model": "m", "input": f"turn {n}", "previous_response_id": previous}
            created = client.post("/responses", json=body)
            answers.append(created)
            if created.status_code == 200:
                previous = created.json()["id"]
                answers.append(client.get(f"/responses/{previous}"))
    return answers


def test_killed_connections_are_503_never_500(upstream_server: ScriptedUpstream) -> None:
    upstream_server.reset()
    with scratch_postgres("hostile_kill") as url:
        migrate(url)
        database = url.rsplit("/", 1)[1]
        with custom_gateway(url, upstream_server.base_url, database_pool_size=4) as gateway:
            stop, killed = threading.Event(), list[int]()
            killer = threading.Thread(target=_killer, args=(database, stop, killed))
            killer.start()
            try:
                with ThreadPoolExecutor(6) as pool:
                    batches = list(pool.map(lambda _: _client_work(gateway.base_url, 25), range(6)))
            finally:
                stop.set()
                killer.join()
            answers = [answer for batch in batches for answer in batch]
            assert sum(killed) > 0
            statuses = {answer.status_code for answer in answers}
            assert statuses <= {200, 400, 503}, statuses
            for answer in answers:
                if answer.status_code == 503:
                    assert answer.json()["error"]["code"] == "store_unavailable"
                    assert answer.headers["retry-after"] == "1"
                elif answer.status_code == 400:
                    # the turn it chained from was refused with a 503 and never stored
                    assert answer.json()["error"]["code"] == "previous_response_not_found"
            after = httpx.post(gateway.base_url + "/responses", json={"model": "m", "input": "ok"})
            assert after.status_code == 200, after.text
