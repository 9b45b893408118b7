"""A rolling restart of two replicas under load, with a client that does what a load balancer
does (a replica that refuses with 503 or is down gets the request's retry on the other): no
request is lost and none fails but those refusals."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from tests.conftest import TEST_SEALING_KEY
from tests.support.process import free_port, gateway_process
from tests.support.upstream import Reply, ScriptedUpstream


def _send(urls: list[str], index: int, outcomes: Counter[str]) -> None:
    body = {"model": "m", "input": f"request {index}"}
    for attempt in range(40):
        url = urls[(index + attempt) % 2]
        try:
            answer = httpx.post(url + "/v1/responses", json=body, timeout=30)
        except httpx.TransportError:
            outcomes["down"] += 1
            time.sleep(0.02)
            continue
        if answer.status_code == 503 and answer.json()["error"]["code"] == "shutting_down":
            outcomes["refused"] += 1
            continue
        outcomes[str(answer.status_code)] += 1
        return
    outcomes["lost"] += 1


def test_no_request_is_lost(postgres_url: str, upstream: ScriptedUpstream, tmp_path: Path) -> None:
    from responses_gateway.store.migrations import migrate

    migrate(postgres_url)
    upstream.default = Reply(content="ok", delay=0.05)
    env = {
        "GATEWAY_DATABASE_URL": postgres_url,
        "GATEWAY_UPSTREAM_URL": upstream.base_url,
        "GATEWAY_SEALING_KEYS": TEST_SEALING_KEY,
        "GATEWAY_SHUTDOWN_GRACE": "10",
    }
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    outcomes: Counter[str] = Counter()
    with contextlib.ExitStack() as stack:
        replicas = [
            stack.enter_context(gateway_process(env, tmp_path / f"r{i}", "--no-migrate", port=port))
            for i, port in enumerate(ports)
        ]
        done = threading.Event()

        def load(worker: int) -> None:
            index = worker
            while not done.is_set():
                outcomes["sent"] += 1
                _send(urls, index, outcomes)
                index += 4

        threads = [threading.Thread(target=load, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        for i, replica in enumerate(replicas):
            time.sleep(0.5)
            replica.terminate()
            assert replica.process.wait(timeout=120) is not None
            stack.enter_context(
                gateway_process(env, tmp_path / f"r{i}-new", "--no-migrate", port=ports[i])
            )
        time.sleep(0.5)
        done.set()
        for thread in threads:
            thread.join(timeout=120)
    assert outcomes["lost"] == 0
    assert outcomes["200"] == outcomes["sent"], outcomes
    assert set(outcomes) <= {"sent", "200", "refused", "down"}, outcomes
    assert outcomes["refused"] + outcomes["down"] > 0, outcomes  # the restarts met the load
