"""Streamed creates: the reference's emission orders, the SDK's stream helper, disconnects."""

from __future__ import annotations

import time
from typing import Any

import httpx
import openai

from tests.conftest import Gateway
from tests.support.checks import TEXT_ITEM_EVENTS, check_response, read_sse
from tests.support.sdk_streams import squash
from tests.support.upstream import Reply, ScriptedUpstream, ToolCall

START = ["response.created", "response.in_progress"]
TEXT_ITEM = TEXT_ITEM_EVENTS


def stream_events(gateway: Gateway, **body: Any) -> list[dict[str, Any]]:
    with httpx.stream(
        "POST", gateway.base_url + "/responses", json={"model": "m", "stream": True, **body}
    ) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        return read_sse(answer)


def test_order_a_plain_text(gateway: Gateway, upstream: ScriptedUpstream) -> None:
    upstream.push(Reply(content="Hello streaming world"))
    events = stream_events(gateway, input="hi")
    types = [e["type"] for e in events]
    assert squash(types) == [*START, *TEXT_ITEM, "response.completed"]
    assert types.count("response.output_text.delta") > 2
    created, completed = events[0]["response"], events[-1]["response"]
    assert (
        created["status"] == "in_progress" and created["output"] == [] and created["usage"] is None
    )
    assert completed["status"] == "completed" and completed["usage"]["total_tokens"] == 18
    assert completed["output"][0]["content"][0]["text"] == "Hello streaming world"
    assert events[3]["part"] == {
        "type": "output_text",
        "text": "",
        "annotations": [],
        "logprobs": [],
    }
    assert events[3]["content_index"] == 0
    text_done = next(e for e in events if e["type"] == "response.output_text.done")
    assert text_done["text"] == "Hello streaming world"
    assert upstream.last["stream"] is True
    assert upstream.last["stream_options"] == {"include_usage": True}


def test_order_b_function_calls(gateway: Gateway, upstream: ScriptedUpstream) -> None:
    upstream.push(
        Reply(
            content="Let me check.",
            tool_calls=[
                ToolCall("lookup", '{"q": "one"}', id="call_1"),
                ToolCall("lookup", '{"q": "two"}', id="call_2"),
            ],
        )
    )
    tool = {"type": "function", "name": "lookup", "parameters": {"type": "object"}}
    events = stream_events(gateway, input="go", tools=[tool])
    call_events = [
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
    ]
    types = [e["type"] for e in events]
    assert types == [
        *START,
        *[t for t in TEXT_ITEM if t != "response.output_text.delta"][:2],
        *["response.output_text.delta"] * types.count("response.output_text.delta"),
        *TEXT_ITEM[3:],
        *call_events,
        *call_events,
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    added = [e for e in events if e["type"] == "response.output_item.added"][1:]
    assert [a["item"]["arguments"] for a in added] == ["", ""]
    assert [a["item"]["status"] for a in added] == ["in_progress", "in_progress"]
    final = events[-1]["response"]
    assert final["status"] == "completed"
    assert [(i["type"], i.get("call_id")) for i in final["output"]] == [
        ("message", None),
        ("function_call", "call_1"),
        ("function_call", "call_2"),
    ]
    assert final["output"][2]["arguments"] == '{"q": "two"}'


def test_order_d_failure_after_first_event(gateway: Gateway, upstream: ScriptedUpstream) -> None:
    upstream.push(Reply(status=503, error={"error": {"message": "overloaded"}}))
    events = stream_events(gateway, input="x")
    assert [e["type"] for e in events] == [*START, "response.failed"]
    failed = events[-1]["response"]
    assert failed["status"] == "failed"
    assert failed["error"]["message"] == "overloaded" and failed["error"]["code"]
    check_response(failed)


def test_order_e_incomplete(gateway: Gateway, upstream: ScriptedUpstream) -> None:
    upstream.push(Reply(content="cut short", finish_reason="length"))
    events = stream_events(gateway, input="x", max_output_tokens=3)
    assert squash([e["type"] for e in events]) == [*START, *TEXT_ITEM, "response.incomplete"]
    done = [e for e in events if e["type"] == "response.output_item.done"][0]
    assert done["item"]["status"] == "incomplete"
    final = events[-1]["response"]
    assert final["status"] == "incomplete"
    assert final["incomplete_details"] == {"reason": "max_output_tokens"}
    assert final["usage"] is not None


def test_think_tags_split_across_chunks(gateway: Gateway, upstream: ScriptedUpstream) -> None:
    upstream.push(Reply(content="<think>Count: one, two.</think>\n\nTwo.", chunk_size=3))
    events = stream_events(gateway, input="count")
    types = squash([e["type"] for e in events])
    reasoning_item = [
        "response.output_item.added",
        "response.content_part.added",
        "response.reasoning_text.delta",
        "response.reasoning_text.done",
        "response.content_part.done",
        "response.output_item.done",
    ]
    assert types == [*START, *reasoning_item, *TEXT_ITEM, "response.completed"]
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert deltas == "Two."
    final = events[-1]["response"]["output"]
    assert final[0]["content"] == [{"type": "reasoning_text", "text": "Count: one, two."}]
    assert final[1]["content"][0]["text"] == "Two."


def test_sdk_stream_helper_accepts_every_shape(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    tool = {"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": False}
    upstream.push(
        Reply(content="text", reasoning="thinking"),
        Reply(tool_calls=[ToolCall("f", '{"a": 1}')]),
        Reply(content="<think>x</think>y", finish_reason="length"),
    )
    for tools in ([], [tool]):
        with client.responses.stream(model="m", input="go", tools=tools) as stream:  # type: ignore[arg-type]
            for _ in stream:
                pass
            final = stream.get_final_response()
        assert final.status == "completed"
    with client.responses.stream(model="m", input="go") as stream:
        kinds = [event.type for event in stream]
    assert kinds[-1] == "response.incomplete"


def test_streamed_and_stored_agree(
    gateway: Gateway, client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(content="same answer", reasoning="why"))
    streamed = stream_events(gateway, input="q")[-1]["response"]
    stored = httpx.get(f"{gateway.base_url}/responses/{streamed['id']}").json()
    assert stored == streamed
    upstream.push(Reply(content="same answer", reasoning="why"))
    plain = httpx.post(gateway.base_url + "/responses", json={"model": "m", "input": "q"}).json()

    def shape(body: dict[str, Any]) -> dict[str, Any]:
        body = {k: v for k, v in body.items() if k not in ("id", "created_at", "completed_at")}
        body["output"] = [{k: v for k, v in item.items() if k != "id"} for item in body["output"]]
        return body

    assert shape(plain) == shape(streamed)


def test_first_event_does_not_wait_for_the_model(
    gateway: Gateway, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(content="late", delay=1.0))
    started = time.monotonic()
    with httpx.stream(
        "POST", gateway.base_url + "/responses", json={"model": "m", "input": "x", "stream": True}
    ) as answer:
        lines = answer.iter_lines()
        first = next(lines)
        elapsed = time.monotonic() - started
        assert first == "event: response.created"
        assert elapsed < 0.5
        rest = list(lines)
    assert "event: response.completed" in rest


def test_disconnect_stops_upstream_and_stores_cancelled(
    gateway: Gateway, client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(content="word " * 400, chunk_size=5, chunk_delay=0.01))
    response_id = None
    with httpx.stream(
        "POST", gateway.base_url + "/responses", json={"model": "m", "input": "x", "stream": True}
    ) as answer:
        for line in answer.iter_lines():
            if line.startswith("data:") and response_id is None:
                import json

                response_id = json.loads(line[5:])["response"]["id"]
            if "output_text.delta" in line:
                break
    assert upstream.cancelled.wait(5), "the upstream call went on after the client left"
    assert response_id is not None
    deadline = time.monotonic() + 5
    while True:
        try:
            stored = client.responses.retrieve(response_id)
            break
        except openai.NotFoundError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    assert stored.status == "cancelled"
    assert stored.output == []  # the message was half-written: it is not kept
