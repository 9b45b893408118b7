"""Reasoning the way clients read it: ``summary`` and its events, ``encrypted_content`` sealed by
the gateway and replayed to the model, foreign blobs dropped."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import openai
import pytest
from openai.types.responses import (
    EasyInputMessageParam,
    FunctionToolParam,
    ResponseFunctionToolCallParam,
    ResponseInputParam,
    ResponseReasoningItem,
    ResponseReasoningItemParam,
    ResponseReasoningSummaryPartAddedEvent,
    ResponseReasoningSummaryPartDoneEvent,
    ResponseReasoningSummaryTextDeltaEvent,
    ResponseReasoningSummaryTextDoneEvent,
)
from pydantic import BaseModel

from responses_gateway.app import create_app
from responses_gateway.sealing import new_key
from tests.conftest import TEST_SEALING_KEY, Gateway, gateway_settings
from tests.support.serving import serve_in_thread
from tests.support.upstream import Reply, ScriptedUpstream, ToolCall
from tests.test_api_stream import START, stream_events

SDK_EVENTS: dict[str, type[BaseModel]] = {
    "response.reasoning_summary_part.added": ResponseReasoningSummaryPartAddedEvent,
    "response.reasoning_summary_part.done": ResponseReasoningSummaryPartDoneEvent,
    "response.reasoning_summary_text.delta": ResponseReasoningSummaryTextDeltaEvent,
    "response.reasoning_summary_text.done": ResponseReasoningSummaryTextDoneEvent,
}
THOUGHT = "The user greets me; a short greeting back is enough."


def _assistant(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m["role"] == "assistant"]


def test_summary_is_the_reasoning_text(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    upstream.push(Reply(content="Hello!", reasoning=THOUGHT))
    response = client.responses.create(model="m", input="hi", reasoning={"summary": "auto"})
    item = response.output[0]
    assert item.type == "reasoning"
    assert [(s.type, s.text) for s in item.summary] == [("summary_text", THOUGHT)]
    assert item.content is not None and item.content[0].text == THOUGHT  # raw reasoning stays
    assert item.encrypted_content is None  # not asked for


def test_no_summary_unless_asked(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    upstream.push(Reply(content="Hello!", reasoning=THOUGHT))
    item = client.responses.create(model="m", input="hi").output[0]
    assert item.type == "reasoning" and item.summary == []


def test_summary_events_in_order(gateway: Gateway, upstream: ScriptedUpstream) -> None:
    upstream.push(Reply(content="Hi.", reasoning="one two three", chunk_size=5))
    events = stream_events(gateway, input="hi", reasoning={"effort": "low", "summary": "detailed"})
    reasoning = [e for e in events if e.get("output_index") == 0]
    types = [e["type"] for e in reasoning]
    per_chunk = ["response.reasoning_summary_text.delta", "response.reasoning_text.delta"]
    assert types == [
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        per_chunk[0],
        "response.content_part.added",
        per_chunk[1],
        *per_chunk * 2,  # "one two three" in chunks of 5: three chunks
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.reasoning_text.done",
        "response.content_part.done",
        "response.output_item.done",
    ]
    assert events[:2] == [e for e in events if e["type"] in START]
    added, part_added = reasoning[0], reasoning[1]
    assert added["item"]["summary"] == [] and added["item"]["content"] == []
    assert part_added["summary_index"] == 0
    assert part_added["part"] == {"type": "summary_text", "text": ""}
    deltas = [e["delta"] for e in reasoning if e["type"] == per_chunk[0]]
    assert "".join(deltas) == "one two three"
    assert reasoning[-5]["text"] == "one two three"
    assert reasoning[-4]["part"] == {"type": "summary_text", "text": "one two three"}
    assert "status" not in reasoning[-4]
    for event in reasoning:
        if event["type"] in SDK_EVENTS:  # every key the SDK's types require, of the right type
            SDK_EVENTS[event["type"]].model_validate(event)
    done = reasoning[-1]["item"]
    ResponseReasoningItem.model_validate(done)
    assert done["summary"] == [{"type": "summary_text", "text": "one two three"}]
    assert events[-1]["response"]["output"][0] == done


def test_sdk_stream_helper_accepts_summary_events(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(content="Hi.", reasoning=THOUGHT))
    with client.responses.stream(
        model="m",
        input="hi",
        reasoning={"summary": "auto"},
        include=["reasoning.encrypted_content"],
    ) as stream:
        seen = [event.type for event in stream]
        final = stream.get_final_response()
    assert "response.reasoning_summary_text.delta" in seen
    item = final.output[0]
    assert item.type == "reasoning" and item.summary[0].text == THOUGHT
    assert item.encrypted_content is not None and final.output_text == "Hi."


def test_summary_of_cut_reasoning_is_incomplete(
    gateway: Gateway, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(content="<think>still thinking", finish_reason="length"))
    events = stream_events(gateway, input="x", reasoning={"summary": "concise"})
    done = next(e for e in events if e["type"] == "response.reasoning_summary_part.done")
    assert done["status"] == "incomplete"
    assert events[-1]["response"]["output"][0]["summary"][0]["text"] == "still thinking"


def test_encrypted_reasoning_round_trip(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    """Codex's path: store=false, the client keeps the items and sends them back; the model sees
    its own reasoning again on the assistant message it preceded."""
    upstream.push(Reply(reasoning=THOUGHT, tool_calls=[ToolCall("look", "{}", id="call_1")]))
    # No ``strict``, which the SDK's type requires and clients leave out.
    look = cast(
        FunctionToolParam, {"type": "function", "name": "look", "parameters": {"type": "object"}}
    )
    first = client.responses.create(
        model="m",
        input="hi",
        store=False,
        reasoning={"summary": "auto"},
        include=["reasoning.encrypted_content"],
        tools=[look],
    )
    reasoning, call = first.output
    assert reasoning.type == "reasoning" and call.type == "function_call"
    blob = reasoning.encrypted_content
    assert blob is not None and blob.startswith("rgs1.") and THOUGHT not in blob
    # Sent back as the Vercel AI SDK does: summary and blob, no content.
    upstream.push(Reply(content="Done."))
    client.responses.create(
        model="m",
        store=False,
        input=[
            {"role": "user", "content": "hi"},
            {"type": "reasoning", "id": reasoning.id, "summary": [], "encrypted_content": blob},
            cast(ResponseFunctionToolCallParam, call.model_dump(exclude_none=True)),
            {"type": "function_call_output", "call_id": "call_1", "output": "seen"},
        ],
    )
    assistant = _assistant(upstream.last["messages"])
    assert assistant[0]["reasoning_content"] == assistant[0]["reasoning"] == THOUGHT
    assert assistant[0]["tool_calls"][0]["id"] == "call_1"


def test_streamed_blob_comes_with_the_finished_item(
    gateway: Gateway, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(content="Hi.", reasoning=THOUGHT))
    events = stream_events(gateway, input="hi", include=["reasoning.encrypted_content"])
    added = next(e for e in events if e["type"] == "response.output_item.added")
    done = next(e for e in events if e["type"] == "response.output_item.done")
    assert "encrypted_content" not in added["item"]
    assert done["item"]["encrypted_content"].startswith("rgs1.")


RAW = {"summary": [], "content": [{"type": "reasoning_text", "text": "Greet back."}]}


@pytest.mark.parametrize(
    ("reasoning_item", "follows", "seen"),
    [
        # Another provider's blob, with text of its own: dropped, not an error.
        (
            {"summary": [{"type": "summary_text", "text": "x"}], "encrypted_content": "gAAB"},
            1,
            None,
        ),
        # Our format, but tampered with.
        ({"summary": [], "encrypted_content": "rgs1.AAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, 1, None),
        # A summary alone is not the model's reasoning.
        ({"summary": [{"type": "summary_text", "text": "I thought hard."}]}, 1, None),
        # Raw reasoning text is.
        (RAW, 1, "Greet back."),
        # Reasoning with no assistant message after it has nothing to travel on.
        (RAW, 0, None),
    ],
)
def test_which_reasoning_the_model_sees(
    client: openai.OpenAI,
    upstream: ScriptedUpstream,
    reasoning_item: dict[str, Any],
    follows: int,
    seen: str | None,
) -> None:
    answer: list[EasyInputMessageParam] = [{"role": "assistant", "content": "Hello."}] * follows
    client.responses.create(
        model="m",
        store=False,
        input=[
            {"role": "user", "content": "hi"},
            cast(
                ResponseReasoningItemParam,
                {"type": "reasoning", "id": "rs_other", **reasoning_item},
            ),
            *answer,
            {"role": "user", "content": "again"},
        ],
    )
    expected = [{"role": "assistant", "content": "Hello."}] * follows
    if seen:  # by default under both names (llama.cpp reads one, vLLM and Ollama the other)
        expected[0].update(reasoning_content=seen, reasoning=seen)
    assert upstream.last["messages"] == [
        {"role": "user", "content": "hi"},
        *expected,
        {"role": "user", "content": "again"},
    ]


def test_stored_chain_replays_reasoning(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    upstream.push(Reply(content="Hello!", reasoning=THOUGHT))
    first = client.responses.create(model="m", input="hi")
    client.responses.create(model="m", input="again", previous_response_id=first.id)
    assert upstream.last["messages"] == [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": "Hello!",
            "reasoning_content": THOUGHT,
            "reasoning": THOUGHT,
        },
        {"role": "user", "content": "again"},
    ]


@pytest.fixture
def other_gateway(database_url: str, upstream: ScriptedUpstream) -> Iterator[Gateway]:
    """Another deployment (its own key), sending past reasoning as Ollama's ``reasoning``."""
    settings = gateway_settings(
        database_url,
        upstream.base_url,
        sealing_keys=[new_key()],
        upstream_reasoning_replay="reasoning",
    )
    with serve_in_thread(create_app(settings)) as url:
        yield Gateway(url, settings)


def _sealed_turn(client: openai.OpenAI, upstream: ScriptedUpstream) -> ResponseInputParam:
    upstream.push(Reply(content="Hello!", reasoning=THOUGHT))
    first = client.responses.create(
        model="m", input="hi", store=False, include=["reasoning.encrypted_content"]
    )
    # The output items sent back as the plain dicts a client keeps.
    returned = cast(
        ResponseInputParam, [item.model_dump(exclude_none=True) for item in first.output]
    )
    return [{"role": "user", "content": "hi"}, *returned, {"role": "user", "content": "again"}]


def test_another_deployments_blob_is_dropped(
    client: openai.OpenAI, other_gateway: Gateway, upstream: ScriptedUpstream
) -> None:
    items = _sealed_turn(client, upstream)
    other_gateway.client().responses.create(model="m", store=False, input=items)
    assistant = _assistant(upstream.last["messages"])[0]
    assert "reasoning" not in assistant and "reasoning_content" not in assistant


def test_rotated_keys_still_open_and_reasoning_field_is_a_setting(
    client: openai.OpenAI, database_url: str, upstream: ScriptedUpstream
) -> None:
    items = _sealed_turn(client, upstream)  # sealed with TEST_SEALING_KEY
    for replay in ("reasoning", "reasoning_content", "off"):
        settings = gateway_settings(
            database_url,
            upstream.base_url,
            sealing_keys=[new_key(), TEST_SEALING_KEY],  # a new key first: the old one opens
            upstream_reasoning_replay=replay,
        )
        with serve_in_thread(create_app(settings)) as url:
            Gateway(url, settings).client().responses.create(model="m", store=False, input=items)
        assistant = _assistant(upstream.last["messages"])[0]
        sent = {
            key: assistant[key] for key in ("reasoning", "reasoning_content") if key in assistant
        }
        assert sent == ({} if replay == "off" else {replay: THOUGHT})
