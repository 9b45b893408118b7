"""SIGTERM: unready first, new requests refused with 503, streams in flight finish within the
grace; past it they are cancelled and stored as ``cancelled``, as on a disconnect."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import TEST_SEALING_KEY
from tests.support.process import GatewayProcess, gateway_process
from tests.support.upstream import Reply, ScriptedUpstream


def _env(database_url: str, upstream: ScriptedUpstream, grace: float) -> dict[str, str]:
    return {
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_UPSTREAM_URL": upstream.base_url,
        "GATEWAY_SEALING_KEYS": TEST_SEALING_KEY,
        "GATEWAY_SHUTDOWN_GRACE": str(grace),
    }


def _stream_in_thread(gateway: GatewayProcess, result: dict[str, Any]) -> threading.Thread:
    def run() -> None:
        client = openai.OpenAI(base_url=gateway.base_url, api_key="k", max_retries=0)
        events: list[str] = []
        try:
            with client.responses.stream(model="m", input="long story") as stream:
                for event in stream:
                    events.append(event.type)
                    if event.type == "response.created":
                        result["id"] = event.response.id
        except Exception as exc:  # the stream may be cut: what arrived is the result
            result["error"] = exc
        result["events"] = events

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _wait_for(predicate: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_drain_lets_a_stream_finish(
    database_url: str, upstream: ScriptedUpstream, tmp_path: Path
) -> None:
    upstream.push(Reply(content="a" * 40, chunk_size=2, chunk_delay=0.1))  # ~2 s of stream
    with gateway_process(_env(database_url, upstream, 20), tmp_path / "log", "--no-migrate") as gw:
        result: dict[str, Any] = {}
        thread = _stream_in_thread(gw, result)
        _wait_for(lambda: "id" in result)
        gw.terminate()
        _wait_for(lambda: httpx.get(gw.url + "/readyz").status_code == 503)
        refused = httpx.post(gw.base_url + "/responses", json={"model": "m", "input": "new"})
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert refused.headers["connection"] == "close"
        assert refused.json()["error"]["code"] == "shutting_down"
        thread.join(timeout=60)
        assert result["events"][-1] == "response.completed"
        gw.process.wait(timeout=60)
    with gateway_process(_env(database_url, upstream, 20), tmp_path / "log2", "--no-migrate") as gw:
        stored = httpx.get(f"{gw.base_url}/responses/{result['id']}").json()
    assert stored["status"] == "completed"
    assert stored["output"][0]["content"][0]["text"] == "a" * 40


@pytest.mark.parametrize("grace", [0.5])
def test_past_the_grace_a_stream_is_cancelled_and_stored(
    database_url: str, upstream: ScriptedUpstream, tmp_path: Path, grace: float
) -> None:
    upstream.push(Reply(content="b" * 600, chunk_size=2, chunk_delay=0.1))  # ~30 s of stream
    env = _env(database_url, upstream, grace)
    with gateway_process(env, tmp_path / "log", "--no-migrate") as gw:
        result: dict[str, Any] = {}
        thread = _stream_in_thread(gw, result)
        _wait_for(lambda: "id" in result)
        started = time.monotonic()
        gw.terminate()
        gw.process.wait(timeout=60)
        assert time.monotonic() - started < 20  # long before the stream would have ended
        thread.join(timeout=60)
        assert "response.completed" not in result["events"]
    with gateway_process(env, tmp_path / "log2", "--no-migrate") as gw:
        stored = httpx.get(f"{gw.base_url}/responses/{result['id']}").json()
    assert stored["status"] == "cancelled"
    assert upstream.cancelled.wait(timeout=5)
