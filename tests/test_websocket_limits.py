"""How a WebSocket connection is bounded and how it ends: the lane bound, the connection's time
limit, a client leaving mid-response, a client that stops reading, and a draining process."""

from __future__ import annotations

import time
from typing import Any

import openai
import orjson
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from responses_gateway.app import create_app
from responses_gateway.lifecycle import Lifecycle
from tests.conftest import Gateway, MakeGateway, gateway_settings
from tests.support.serving import serve_in_thread
from tests.support.upstream import Reply, ScriptedUpstream
from tests.support.websocket import raw_connect, raw_recv, raw_until_terminal


def create(socket: Any, **body: Any) -> None:
    socket.send(orjson.dumps({"type": "response.create", "model": "m", **body}).decode())


def retrieve_when_stored(client: openai.OpenAI, response_id: str) -> Any:
    """The stored response, once the gateway has written it (it does after the client left)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return client.responses.retrieve(response_id)
        except openai.NotFoundError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_lanes_past_the_bound_are_refused_not_dropped(
    make_gateway: MakeGateway, upstream: ScriptedUpstream
) -> None:
    gateway = make_gateway(ws_max_lanes=1)
    upstream.push(Reply(content="slow " * 40, chunk_delay=0.01), Reply(content="later"))
    with raw_connect(gateway.base_url) as socket:
        create(socket, input="a", stream_id="a", store=False)
        assert orjson.loads(socket.recv(timeout=10))["type"] == "response.created"
        create(socket, input="b", stream_id="b", store=False)
        frames = raw_until_terminal(socket)
        refused = next(orjson.loads(f) for f in frames if b'"type":"error"' in f)
        assert refused["code"] == "websocket_lane_limit_reached"
        assert refused["stream_id"] == "b" and refused["param"] == "stream_id"
        frames += raw_until_terminal(socket)
        assert orjson.loads(frames[-1])["type"] == "response.completed"
        create(socket, input="b again", stream_id="b", store=False)  # the lane is free now
        assert orjson.loads(raw_until_terminal(socket)[-1])["response"]["status"] == "completed"


def test_frames_past_the_queue_bound_are_refused(
    make_gateway: MakeGateway, upstream: ScriptedUpstream
) -> None:
    gateway = make_gateway(ws_max_lanes=1)  # so 8 frames may wait on the connection
    upstream.push(Reply(content="slow " * 40, chunk_delay=0.01))
    with raw_connect(gateway.base_url) as socket:
        create(socket, input="first", store=False)
        assert orjson.loads(socket.recv(timeout=10))["type"] == "response.created"
        for n in range(9):
            create(socket, input=f"queued {n}", store=False)
        kinds: list[str] = []
        while kinds.count("response.completed") + kinds.count("websocket_queue_full") < 10:
            event = orjson.loads(socket.recv(timeout=30))
            kinds.append(event.get("code") or event["type"])
    assert kinds.count("websocket_queue_full") == 1
    assert kinds.count("response.completed") == 9  # the first, then the 8 that waited


def test_the_connection_limit_ends_with_an_error_then_close(
    make_gateway: MakeGateway, upstream: ScriptedUpstream
) -> None:
    gateway = make_gateway(ws_max_connection_seconds=0.5)
    with raw_connect(gateway.base_url) as socket:
        event = orjson.loads(socket.recv(timeout=10))
        assert event["type"] == "error" and event["code"] == "websocket_connection_limit_reached"
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000


def test_client_leaving_mid_response_stops_upstream_and_stores_cancelled(
    gateway: Gateway, client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(content="word " * 400, chunk_size=5, chunk_delay=0.01))
    with raw_connect(gateway.base_url) as socket:
        create(socket, input="long story")
        response_id = orjson.loads(socket.recv(timeout=10))["response"]["id"]
        while b"output_text.delta" not in raw_recv(socket, timeout=10):
            pass
    assert upstream.cancelled.wait(10), "the upstream call went on after the client left"
    stored = retrieve_when_stored(client, response_id)
    assert stored.status == "cancelled"
    assert stored.output == []  # the message was half-written: it is not kept


def test_a_reader_that_stops_reading_is_cut_off(
    make_gateway: MakeGateway, upstream: ScriptedUpstream
) -> None:
    """The kernel's and uvicorn's buffers fill, then the connection's 16 KiB outbox: the
    gateway stops the response (stored ``cancelled``) and closes with 1008 instead of holding
    the whole response in memory."""
    gateway = make_gateway(ws_send_buffer_kb=16)
    text = "".join(f"{n:07d} " for n in range(400_000))  # 3.2 MB, deltas of 32 KB
    upstream.push(Reply(content=text, chunk_size=32_000, chunk_delay=0.001))
    with raw_connect(gateway.base_url, compression=None, max_queue=1) as socket:
        create(socket, input="everything")
        response_id = orjson.loads(socket.recv(timeout=10))["response"]["id"]
        assert upstream.cancelled.wait(60), "the gateway kept reading the upstream"
        kinds: list[str] = []
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                kinds.append(orjson.loads(socket.recv(timeout=30))["type"])
    assert "response.completed" not in kinds
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    stored = retrieve_when_stored(gateway.client(), response_id)
    assert stored.status == "cancelled"


def test_a_draining_process_lets_running_responses_finish_then_closes(
    gateway: Gateway, upstream: ScriptedUpstream
) -> None:
    life = Lifecycle()
    settings = gateway_settings(gateway.settings.database_url, upstream.base_url)
    upstream.push(Reply(content="slow " * 40, chunk_delay=0.01))
    with serve_in_thread(create_app(settings, life)) as url, raw_connect(url + "/v1") as socket:
        create(socket, input="running", store=False)
        assert orjson.loads(socket.recv(timeout=10))["type"] == "response.created"
        life.draining = True
        create(socket, input="new", store=False)
        refused = orjson.loads(raw_until_terminal(socket)[-1])
        assert refused["code"] == "shutting_down" and refused["status"] == 503
        finished = orjson.loads(raw_until_terminal(socket)[-1])
        assert finished["type"] == "response.completed"
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
        with pytest.raises(InvalidStatus) as refused_handshake, raw_connect(url + "/v1"):
            pass
        assert refused_handshake.value.response.status_code == 503
    assert len(upstream.requests) == 1
