"""A real llama-server that dies (SIGKILL) or freezes (SIGSTOP) mid-stream: the stream ends with
``response.failed`` saying so (within ``GATEWAY_UPSTREAM_TIMEOUT`` when frozen), and the failed
snapshot keeps the text that had arrived."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest

from tests.backends.conftest import MODEL, UPSTREAM_TIMEOUT
from tests.backends.llama import LlamaServer
from tests.conftest import Gateway

LONG = {
    "model": MODEL,
    "temperature": 0,
    "input": "Write a long story about a dragon who learns to bake bread.",
    "max_output_tokens": 400,
    "stream": True,
}


def _stream_then(gateway: Gateway, after_deltas: int, act: Callable[[], None]) -> list[Any]:
    """Stream, run ``act`` once ``after_deltas`` text deltas arrived, read to the end."""
    events: list[dict[str, Any]] = []
    deltas = 0
    # The client's own deadline is only a backstop: the gateway must end the stream first.
    with httpx.stream(
        "POST", gateway.base_url + "/responses", json=LONG, timeout=UPSTREAM_TIMEOUT * 6
    ) as answer:
        for line in answer.iter_lines():
            if not line.startswith("data: {"):
                continue
            event = orjson.loads(line[6:])
            events.append(event)
            if event["type"] == "response.output_text.delta":
                deltas += 1
                if deltas == after_deltas:
                    act()
    assert deltas >= after_deltas, f"the stream ended before {after_deltas} deltas: {events[-1]}"
    return events


def _check_failed_keeping_text(events: list[dict[str, Any]], wording: str) -> None:
    terminal = events[-1]
    assert terminal["type"] == "response.failed"
    failed = terminal["response"]
    assert wording in failed["error"]["message"]
    assert "could not be reached" not in failed["error"]["message"]
    streamed = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    message = failed["output"][0]
    assert message["status"] == "incomplete"
    assert message["content"][0]["text"] == streamed and streamed


@pytest.mark.parametrize("when", ["killed", "frozen"])
def test_upstream_lost_mid_stream_fails_clearly(
    doomed: tuple[LlamaServer, Gateway], when: str
) -> None:
    server, gateway = doomed
    act = server.kill if when == "killed" else server.freeze
    events = _stream_then(gateway, after_deltas=5, act=act)
    _check_failed_keeping_text(events, "broke mid-stream" if when == "killed" else "timed out")
    answer = httpx.get(gateway.base_url + f"/responses/{events[-1]['response']['id']}")
    assert answer.status_code == 404  # a failed response is not stored
