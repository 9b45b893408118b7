"""Helpers for background-response tests: wait for a status, read a resumed stream."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import openai
from openai.types.responses import Response

from tests.support.checks import check_event

T = TypeVar("T")
TERMINAL = {"completed", "failed", "incomplete", "cancelled"}


def eventually(probe: Callable[[], T | None], what: str, timeout: float = 20.0) -> T:
    """Poll ``probe`` until it returns something; fail (not time) the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None:
            return found
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def settled(client: openai.OpenAI, response_id: str) -> Response:
    """The response once it reached a terminal status."""

    def probe() -> Response | None:
        response = client.responses.retrieve(response_id)
        return response if response.status in TERMINAL else None

    return eventually(probe, f"{response_id} to finish")


def resumed_events(
    base_url: str, response_id: str, after: int | None = None
) -> list[dict[str, Any]]:
    """``GET /v1/responses/{id}?stream=true[&starting_after=N]``, read to its end, checked:
    numbered from N+1 without gaps, and each event valid."""
    params: dict[str, Any] = {"stream": "true"}
    if after is not None:
        params["starting_after"] = after
    with httpx.stream(
        "GET", f"{base_url}/responses/{response_id}", params=params, timeout=60
    ) as answer:
        assert answer.status_code == 200, answer.read()
        events = read_frames(answer)
    first = 0 if after is None else after + 1
    assert [e["sequence_number"] for e in events] == list(range(first, first + len(events)))
    for event in events:
        check_event(event)
    return events


def read_frames(answer: httpx.Response) -> list[dict[str, Any]]:
    import orjson

    events = []
    for line in answer.iter_lines():
        if line.startswith("data: {"):
            events.append(orjson.loads(line[6:]))
    return events
