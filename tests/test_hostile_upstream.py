"""Upstream limits (issue 8's D7, D14, D15): a huge SSE line, an exhausted connection pool, a
total deadline; each a clear error in the envelope, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from responses_gateway.errors import UpstreamError
from responses_gateway.upstream import MAX_UPSTREAM_LINE_BYTES, LineSplitter
from tests.conftest import Gateway, custom_gateway
from tests.support.checks import read_sse
from tests.support.upstream import Reply, ScriptedUpstream


@pytest.fixture(scope="module")
def tight(database_url: str, upstream_server: ScriptedUpstream) -> Iterator[Gateway]:
    with custom_gateway(
        database_url,
        upstream_server.base_url,
        upstream_max_connections=1,
        upstream_pool_timeout=0.3,
        upstream_total_timeout=1.0,
    ) as running:
        yield running


def _create(gateway: Gateway, **extra: object) -> httpx.Response:
    body = {"model": "m", "input": "hi", **extra}
    return httpx.post(gateway.base_url + "/responses", json=body, timeout=30)


def _stream(gateway: Gateway) -> list[dict[str, Any]]:
    body = {"model": "m", "input": "hi", "stream": True}
    with httpx.stream("POST", gateway.base_url + "/responses", json=body, timeout=30) as answer:
        return read_sse(answer)


def test_an_sse_line_over_512_kb_works(gateway: Gateway, upstream: ScriptedUpstream) -> None:
    """D7: one 600 KB delta in one ``data:`` line."""
    text = "x" * 600_000
    upstream.push(Reply(content=text, chunk_size=len(text)))
    events = _stream(gateway)
    assert events[-1]["type"] == "response.completed"
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == text


def test_an_exhausted_pool_has_a_deadline(tight: Gateway, upstream: ScriptedUpstream) -> None:
    """D14: the one connection is busy; the next request waits 0.3 s, then 503 + Retry-After."""
    upstream.push(Reply(content="slow", delay=0.8))
    first: list[httpx.Response] = []
    holder = threading.Thread(target=lambda: first.append(_create(tight)))
    holder.start()
    deadline = time.monotonic() + 10
    while not upstream.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    second = _create(tight)
    holder.join()
    assert first[0].status_code == 200, first[0].text
    assert second.status_code == 503, second.text
    assert second.headers["retry-after"] == "1"
    assert second.json()["error"]["code"] == "upstream_unavailable"


def test_a_total_deadline_beyond_the_read_timeout(
    tight: Gateway, upstream: ScriptedUpstream
) -> None:
    """D15: each chunk arrives well within the 600 s read timeout, the whole does not within 1 s."""
    upstream.push(Reply(content="trickle " * 20, chunk_size=4, chunk_delay=0.05))
    events = _stream(tight)
    assert events[0]["type"] == "response.created"
    assert events[-1]["type"] == "response.failed"
    assert events[-1]["response"]["error"]["code"] == "upstream_timeout"
    upstream.push(Reply(content="late", delay=2.0))
    answer = _create(tight)
    assert answer.status_code == 504, answer.text
    assert answer.json()["error"]["code"] == "upstream_timeout"


def test_stream_lines_cut_between_reads_are_joined() -> None:
    lines = LineSplitter()
    assert lines.feed(b'data: {"a"') == []
    assert lines.feed(b":1}\n\nda") == [b'data: {"a":1}', b""]
    assert lines.feed(b"ta: [DONE]") == []
    assert lines.feed(b"\n") == [b"data: [DONE]"]  # the end of the body ends a last line


@pytest.mark.parametrize("reads", [1, 3])
def test_a_stream_line_over_the_bound_is_refused(reads: int) -> None:
    """D7's bound: a line over MAX_UPSTREAM_LINE_BYTES, whole in one read or still arriving."""
    lines = LineSplitter()
    body = b"x" * (MAX_UPSTREAM_LINE_BYTES + 1) + b"\n"
    cut = len(body) // reads + 1
    with pytest.raises(UpstreamError) as raised:
        for start in range(0, len(body), cut):
            lines.feed(body[start : start + cut])
    assert raised.value.code == "upstream_line_too_long"
