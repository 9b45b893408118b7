"""WebSocket mode on the wire: frames byte-identical to SSE ``data:`` lines, ``error`` events,
ignored and refused client events, permessage-deflate, and stored chains across transports."""

from __future__ import annotations

import re
from typing import Any

import httpx
import openai
import orjson
import pytest
from openai.types.responses import ResponseInputText

from tests.conftest import Gateway
from tests.support.checks import check_event
from tests.support.upstream import Reply, ScriptedUpstream, ToolCall
from tests.support.websocket import raw_connect, raw_recv, raw_turn

_IDS = re.compile(rb"\b(resp|msg|fc|rs)_[0-9a-f]{48}\b")
_TIMES = re.compile(rb'"(created_at|completed_at)":\d+')


def normalised(frames: list[bytes]) -> list[bytes]:
    """Ids numbered by first appearance, times zeroed: what two runs of one script share."""
    seen: dict[bytes, bytes] = {}

    def number(match: re.Match[bytes]) -> bytes:
        return seen.setdefault(match.group(0), b"%s_%d" % (match.group(1), len(seen)))

    return [_TIMES.sub(rb'"\1":0', _IDS.sub(number, frame)) for frame in frames]


def sse_data(gateway: Gateway, **body: Any) -> list[bytes]:
    with httpx.stream(
        "POST", gateway.base_url + "/responses", json={**body, "stream": True}
    ) as answer:
        lines = answer.read().split(b"\n")
    return [line[6:] for line in lines if line.startswith(b"data: {")]


@pytest.mark.parametrize(
    "reply",
    [
        Reply(content="Hello byte-identical world", reasoning="thinking"),
        Reply(tool_calls=[ToolCall("get_weather", '{"city": "Paris"}', id="call_1")]),
        Reply(status=500),
    ],
    ids=["text", "function_call", "failed"],
)
def test_frames_are_the_sse_data_lines(
    gateway: Gateway, upstream: ScriptedUpstream, reply: Reply
) -> None:
    tools = [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]
    body = {"model": "m", "input": "hi", "tools": tools, "store": False}
    upstream.push(reply, reply, reply)
    sse = sse_data(gateway, **body)
    with raw_connect(gateway.base_url) as socket:
        frames = raw_turn(socket, **body)
        laned = raw_turn(socket, **body, stream_id="lane-1")
    assert normalised(frames) == normalised(sse)
    suffix = b',"stream_id":"lane-1"}'
    assert all(frame.endswith(suffix) for frame in laned)
    assert normalised([frame[: -len(suffix)] + b"}" for frame in laned]) == normalised(sse)
    for frame in frames:
        check_event(orjson.loads(frame))


def test_permessage_deflate_is_negotiated(gateway: Gateway, upstream: ScriptedUpstream) -> None:
    with raw_connect(gateway.base_url) as socket:
        assert socket.response is not None
        assert "permessage-deflate" in socket.response.headers["Sec-WebSocket-Extensions"]
        assert orjson.loads(raw_turn(socket, model="m", input="hi")[-1])["type"] == (
            "response.completed"
        )


def error_of(frame: bytes) -> dict[str, Any]:
    event = orjson.loads(frame)
    assert event["type"] == "error" and event["sequence_number"] == 0
    assert event["error"]["code"] == event["code"] and event["error"]["param"] == event["param"]
    assert event["error"]["message"] == event["message"]
    return dict(event)


def test_a_refused_frame_is_the_400_of_the_same_body(
    gateway: Gateway, upstream: ScriptedUpstream
) -> None:
    body = {"model": "m", "input": [{"type": "message", "role": "user"}]}
    http = httpx.post(gateway.base_url + "/responses", json=body)
    assert http.status_code == 400
    with raw_connect(gateway.base_url) as socket:
        event = error_of(raw_turn(socket, **body, stream_id="s")[0])
        assert event["status"] == 400 and event["stream_id"] == "s"
        assert event["error"] == http.json()["error"]
        assert orjson.loads(raw_turn(socket, model="m", input="still here")[-1])["type"] == (
            "response.completed"
        )
    assert len(upstream.requests) == 1


@pytest.mark.parametrize(
    ("fields", "param", "code"),
    [
        ({"background": True}, "background", "unsupported_parameter"),
        ({"stream": False}, "stream", "unsupported_parameter"),
        ({"generate": "no"}, "generate", "invalid_type"),
        ({"stream_id": 7}, "stream_id", "invalid_type"),
        ({"model": ""}, "model", "invalid_value"),
        ({"previous_response_id": "resp_nope"}, "previous_response_id", None),
    ],
)
def test_refusals_name_the_param(
    gateway: Gateway, upstream: ScriptedUpstream, fields: dict[str, Any], param: str, code: Any
) -> None:
    with raw_connect(gateway.base_url) as socket:
        event = error_of(raw_turn(socket, **{"model": "m", "input": "x", **fields})[0])
    assert event["param"] == param
    assert event["code"] == (code or "previous_response_not_found")
    assert upstream.requests == []


def test_bad_messages_get_errors_and_unknown_types_are_ignored(
    gateway: Gateway, upstream: ScriptedUpstream
) -> None:
    with raw_connect(gateway.base_url) as socket:
        socket.send('{"type": "response.processed", "response_id": "resp_x"}')
        socket.send("not json")
        assert error_of(raw_recv(socket, timeout=10))["code"] == "invalid_json"
        socket.send("[1, 2]")
        assert error_of(raw_recv(socket, timeout=10))["code"] == "invalid_json"
        socket.send('{"no_type": true}')
        assert error_of(raw_recv(socket, timeout=10))["param"] == "type"
        socket.send('{"type": "response.steer", "input": "more", "previous_response_id": "r"}')
        assert error_of(raw_recv(socket, timeout=10))["code"] == "unsupported_event_type"
        last = orjson.loads(raw_turn(socket, model="m", input="hi")[-1])
    assert last["type"] == "response.completed" and last["sequence_number"] > 0


def test_stored_responses_chain_across_transports(
    gateway: Gateway, client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    first = client.responses.create(model="m", input="over HTTP")
    with raw_connect(gateway.base_url) as socket:
        second = orjson.loads(
            raw_turn(socket, model="m", input="over WS", previous_response_id=first.id)[-1]
        )["response"]
        third = orjson.loads(
            raw_turn(
                socket, model="m", input="unstored", previous_response_id=second["id"], store=False
            )[-1]
        )["response"]
    assert second["status"] == "completed" and third["status"] == "completed"
    users = [m["content"] for m in upstream.last["messages"] if m["role"] == "user"]
    assert users == ["over HTTP", "over WS", "unstored"]
    assert client.responses.retrieve(second["id"]).previous_response_id == first.id
    items = client.responses.input_items.list(second["id"])
    texts = []
    for item in items.data:
        if item.type == "message":
            assert isinstance(item.content[0], ResponseInputText)
            texts.append(item.content[0].text)
    assert texts == ["over WS"]


def test_generate_false_is_refused_over_http(gateway: Gateway, upstream: ScriptedUpstream) -> None:
    answer = httpx.post(
        gateway.base_url + "/responses", json={"model": "m", "input": "x", "generate": False}
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "generate"
    assert upstream.requests == []
