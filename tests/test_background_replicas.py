"""Two gateway processes sharing one PostgreSQL database: a background response created on one
is retrieved, resumed, cancelled and, when its replica is killed, ended by the other."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from responses_gateway.service.background_takeover import REPLICA_STOPPED
from responses_gateway.store.migrations import migrate
from tests.conftest import scratch_postgres
from tests.support.background import eventually, resumed_events, settled
from tests.support.database import read_database
from tests.support.replicas import Replica, running_replica
from tests.support.upstream import Reply, ScriptedUpstream

LEASE = 1.5  # seconds: short, so a takeover happens within the test

SLOW = Reply(content="a long answer " * 40, chunk_size=3, chunk_delay=0.02)  # ~4 s


@pytest.fixture(scope="module")
def shared_url() -> Iterator[str]:
    with scratch_postgres("gateway_replicas") as url:
        migrate(url)
        yield url


@contextlib.contextmanager
def two_replicas(
    url: str, upstream: ScriptedUpstream, lease: float
) -> Iterator[tuple[Replica, Replica]]:
    env = {
        "GATEWAY_DATABASE_URL": url,
        "GATEWAY_UPSTREAM_URL": upstream.base_url,
        "GATEWAY_BACKGROUND_LEASE": str(lease),
        "GATEWAY_BACKGROUND_POLL_INTERVAL": "0.1",
    }
    with contextlib.ExitStack() as stack:
        yield stack.enter_context(running_replica(env)), stack.enter_context(running_replica(env))


@pytest.fixture
def replicas(shared_url: str, upstream: ScriptedUpstream) -> Iterator[tuple[Replica, Replica]]:
    with two_replicas(shared_url, upstream, LEASE) as pair:
        yield pair


def runner_of(url: str, response_id: str, replicas: tuple[Replica, Replica]) -> Replica:
    """The replica that holds the job's lease (its id carries the process id)."""

    def holder() -> str | None:
        rows = read_database(
            url, "SELECT lease_owner FROM background_jobs WHERE response_id = :id", id=response_id
        )
        return rows[0][0] if rows and rows[0][0] else None

    pid = int(eventually(holder, "a replica to claim the job").split("-")[-2])
    return next(replica for replica in replicas if replica.process.pid == pid)


def logged(url: str, response_id: str) -> int:
    rows = read_database(
        url, "SELECT emitted FROM background_jobs WHERE response_id = :id", id=response_id
    )
    return int(rows[0][0])


def test_create_on_one_poll_and_resume_on_the_other(
    replicas: tuple[Replica, Replica], upstream: ScriptedUpstream, shared_url: str
) -> None:
    first, second = replicas
    upstream.push(Reply(reasoning="Plan it.", content=SLOW.content, chunk_size=3, chunk_delay=0.02))
    queued = first.client().responses.create(model="m", input="go", background=True)
    other = second.client()
    running = eventually(
        lambda: (r := other.responses.retrieve(queued.id)).output and r or None,
        "progress seen from the other replica",
    )
    assert running.status == "in_progress" and running.output[0].type == "reasoning"
    resumed = resumed_events(second.base_url, queued.id, after=2)
    assert resumed[-1]["type"] == "response.completed"
    final = settled(first.client(), queued.id)
    assert final.model_dump() == other.responses.retrieve(queued.id).model_dump()
    assert resumed[-1]["response"]["output"][1]["id"] == final.output[1].id
    assert resumed_events(first.base_url, queued.id)[3:] == resumed


def test_cancel_on_the_replica_that_does_not_run_it(
    replicas: tuple[Replica, Replica], upstream: ScriptedUpstream, shared_url: str
) -> None:
    upstream.push(Reply(reasoning="Plan.", content="never " * 300, chunk_size=3, chunk_delay=0.02))
    queued = replicas[0].client().responses.create(model="m", input="go", background=True)
    runner = runner_of(shared_url, queued.id, replicas)
    bystander = next(replica for replica in replicas if replica is not runner)
    client = bystander.client()
    eventually(lambda: client.responses.retrieve(queued.id).output or None, "a finished item")
    cancelled = client.responses.cancel(queued.id)
    assert cancelled.status == "cancelled" and [i.type for i in cancelled.output] == ["reasoning"]
    assert upstream.cancelled.wait(5), "the runner did not stop the upstream call"
    assert runner.client().responses.cancel(queued.id).model_dump() == cancelled.model_dump()


def test_a_killed_replica_s_run_is_ended_by_the_other(
    replicas: tuple[Replica, Replica], upstream: ScriptedUpstream, shared_url: str
) -> None:
    upstream.push(SLOW)
    queued = replicas[1].client().responses.create(model="m", input="go", background=True)
    runner = runner_of(shared_url, queued.id, replicas)
    survivor = next(replica for replica in replicas if replica is not runner)
    eventually(lambda: logged(shared_url, queued.id) > 4 or None, "the run to log events")
    runner.kill()
    final = settled(survivor.client(), queued.id)
    assert final.status == "failed" and final.error is not None
    assert final.error.message == REPLICA_STOPPED
    stream = resumed_events(survivor.base_url, queued.id)
    assert stream[-1]["type"] == "response.failed"
    assert stream[-1]["response"]["status"] == "failed"


def test_a_replica_shut_down_gives_its_leases_up_at_once(
    shared_url: str, upstream: ScriptedUpstream
) -> None:
    # A lease longer than the wait below: the survivor can only end the response in time
    # because the replica that stopped gave its lease up.
    with two_replicas(shared_url, upstream, lease=120) as replicas:
        upstream.push(SLOW)
        queued = replicas[0].client().responses.create(model="m", input="go", background=True)
        runner = runner_of(shared_url, queued.id, replicas)
        survivor = next(replica for replica in replicas if replica is not runner)
        eventually(lambda: logged(shared_url, queued.id) > 4 or None, "the run to log events")
        runner.process.terminate()  # a graceful shutdown (uvicorn re-raises SIGTERM after it)
        runner.process.wait(15)
        final = settled(survivor.client(), queued.id)
        assert final.status == "failed" and final.error is not None
        assert final.error.message == REPLICA_STOPPED
