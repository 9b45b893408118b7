"""Leases, takeovers, the queue bound and the log's retention, each on a fresh database (SQLite
and PostgreSQL) with a gateway of its own. A replica that died is played by rows written through
the store as that replica would have left them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from responses_gateway import events
from responses_gateway.app import create_app
from responses_gateway.ids import new_id
from responses_gateway.orchestrator.state import ResponseState, request_echo
from responses_gateway.schemas.request import CreateResponseRequest
from responses_gateway.service.background_log import encode
from responses_gateway.service.background_takeover import REPLICA_STOPPED
from responses_gateway.service.background_worker import stored_request
from responses_gateway.store.database import Database
from responses_gateway.store.jobs import JobStore
from tests.conftest import Gateway, fresh_database, gateway_settings
from tests.support.background import eventually, resumed_events, settled
from tests.support.database import with_database
from tests.support.serving import serve_in_thread
from tests.support.upstream import Reply, ScriptedUpstream

FAST = {"background_lease": 1.0, "background_poll_interval": 0.05}


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path, "gateway_leases") as url:
        yield url


def start(stack: Any, url: str, upstream: ScriptedUpstream, **overrides: Any) -> Gateway:
    settings = gateway_settings(url, upstream.base_url, **overrides)
    return Gateway(stack.enter_context(serve_in_thread(create_app(settings))), settings)


@pytest.fixture
def stack() -> Iterator[Any]:
    import contextlib

    with contextlib.ExitStack() as exits:
        yield exits


def plant_dead_run(url: str, *, logged: int, **fields: Any) -> str:
    """A background job claimed by a replica that died with ``logged`` events of its run in
    the log (after the two written when it was queued); its lease has already expired."""

    async def plant(database: Database) -> str:
        jobs = JobStore(database)
        request = CreateResponseRequest(model="m", input="rerun me", background=True, **fields)
        state = ResponseState(id=new_id("resp"), echo=request_echo(request, []), status="queued")
        queued = state.snapshot()
        opening = [
            encode(events.lifecycle("created", queued), 0),
            encode(events.lifecycle("queued", queued), 1),
        ]
        item = {
            "type": "message",
            "id": new_id("msg"),
            "role": "user",
            "content": [{"type": "input_text", "text": "rerun me"}],
        }
        stored = stored_request(request)
        await jobs.enqueue("", queued, [item], stored, opening, holder=None, lease_ms=0)
        [claimed] = await jobs.claim("dead-replica", 1, lease_ms=-1000)
        state.status = "in_progress"
        run = [
            encode(events.lifecycle("in_progress", state.snapshot()), 2 + n) for n in range(logged)
        ]
        if run:
            assert await jobs.log("dead-replica", claimed.response_id, run, state.snapshot())
        return claimed.response_id

    return with_database(url, plant)


def test_a_run_that_logged_nothing_is_rerun_from_the_start(
    fresh_url: str, upstream: ScriptedUpstream, stack: Any
) -> None:
    response_id = plant_dead_run(fresh_url, logged=0)
    upstream.push(Reply(content="Rerun by the survivor."))
    gateway = start(stack, fresh_url, upstream, **FAST)
    final = settled(gateway.client(), response_id)
    assert final.status == "completed" and final.output_text == "Rerun by the survivor."
    types = [event["type"] for event in resumed_events(gateway.base_url, response_id)]
    assert types[:3] == ["response.created", "response.queued", "response.in_progress"]
    assert types[-1] == "response.completed"


def test_a_run_that_logged_events_ends_failed(
    fresh_url: str, upstream: ScriptedUpstream, stack: Any
) -> None:
    response_id = plant_dead_run(fresh_url, logged=1)
    gateway = start(stack, fresh_url, upstream, **FAST)
    final = settled(gateway.client(), response_id)
    assert final.status == "failed" and final.error is not None
    assert final.error.message == REPLICA_STOPPED
    assert upstream.requests == []  # never rerun
    stream = resumed_events(gateway.base_url, response_id)
    assert [event["type"] for event in stream] == [
        "response.created",
        "response.queued",
        "response.in_progress",
        "response.failed",
    ]


def test_a_rerun_that_cannot_start_ends_failed_with_the_reason(
    fresh_url: str, upstream: ScriptedUpstream, stack: Any
) -> None:
    response_id = plant_dead_run(fresh_url, logged=0, previous_response_id="resp_gone")
    gateway = start(stack, fresh_url, upstream, **FAST)
    final = settled(gateway.client(), response_id)
    assert final.status == "failed" and final.error is not None
    assert "resp_gone" in final.error.message
    assert upstream.requests == []
    types = [event["type"] for event in resumed_events(gateway.base_url, response_id)]
    assert types == ["response.created", "response.queued", "response.failed"]


def test_a_full_queue_is_a_429_with_retry_after(
    fresh_url: str, upstream: ScriptedUpstream, stack: Any
) -> None:
    gateway = start(
        stack, fresh_url, upstream, background_concurrency=1, background_max_queued=1, **FAST
    )
    client = gateway.client()
    upstream.default = Reply(content="slow " * 100, chunk_size=2, chunk_delay=0.02)
    running = client.responses.create(model="m", input="one", background=True)
    eventually(
        lambda: client.responses.retrieve(running.id).status == "in_progress" or None,
        "the first job to run",
    )
    waiting = client.responses.create(model="m", input="two", background=True)
    answer = httpx.post(
        gateway.base_url + "/responses", json={"model": "m", "input": "3", "background": True}
    )
    assert answer.status_code == 429, answer.text
    assert answer.headers["retry-after"] == "1"
    assert answer.json()["error"]["param"] == "background"
    assert client.responses.retrieve(waiting.id).status == "queued"
    assert client.responses.cancel(waiting.id).status == "cancelled"
    assert client.responses.cancel(running.id).status == "cancelled"


def test_the_event_log_is_dropped_after_the_retention(
    fresh_url: str, upstream: ScriptedUpstream, stack: Any
) -> None:
    gateway = start(stack, fresh_url, upstream, background_event_retention=0, **FAST)
    client = gateway.client()
    done = settled(client, client.responses.create(model="m", input="x", background=True).id)

    def dropped() -> bool | None:
        url = f"{gateway.base_url}/responses/{done.id}"
        return httpx.get(url, params={"stream": "true"}).status_code == 404 or None

    eventually(dropped, "the event log to be dropped")
    assert client.responses.retrieve(done.id).model_dump() == done.model_dump()
    assert client.responses.cancel(done.id).status == "completed"  # finished: returned as is


def test_cancel_of_a_finished_background_response_returns_it(
    fresh_url: str, upstream: ScriptedUpstream, stack: Any
) -> None:
    client: openai.OpenAI = start(stack, fresh_url, upstream, **FAST).client()
    done = settled(client, client.responses.create(model="m", input="x", background=True).id)
    assert client.responses.cancel(done.id).model_dump() == done.model_dump()
