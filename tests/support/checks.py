"""Validation shared by the API tests: Open Responses models and the SSE wire format."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from openresponses_types import types as open_responses

RESPONSE_KEYS = {
    "id", "object", "created_at", "completed_at", "status", "incomplete_details", "model",
    "previous_response_id", "instructions", "output", "error", "tools", "tool_choice",
    "truncation", "parallel_tool_calls", "text", "top_p", "presence_penalty", "frequency_penalty",
    "top_logprobs", "temperature", "reasoning", "usage", "max_output_tokens", "max_tool_calls",
    "store", "background", "service_tier", "metadata", "safety_identifier", "prompt_cache_key",
}  # fmt: skip

TEXT_ITEM_EVENTS = [
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
]
"""Order A's message item (one delta shown): the reference's emission order for text."""

_OPEN_RESPONSES_EVENTS = {
    "response.created": "ResponseCreatedStreamingEvent",
    "response.in_progress": "ResponseInProgressStreamingEvent",
    "response.completed": "ResponseCompletedStreamingEvent",
    "response.failed": "ResponseFailedStreamingEvent",
    "response.incomplete": "ResponseIncompleteStreamingEvent",
    "response.output_item.added": "ResponseOutputItemAddedStreamingEvent",
    "response.output_item.done": "ResponseOutputItemDoneStreamingEvent",
    "response.content_part.added": "ResponseContentPartAddedStreamingEvent",
    "response.content_part.done": "ResponseContentPartDoneStreamingEvent",
    "response.output_text.delta": "ResponseOutputTextDeltaStreamingEvent",
    "response.output_text.done": "ResponseOutputTextDoneStreamingEvent",
    "response.function_call_arguments.delta": "ResponseFunctionCallArgumentsDeltaStreamingEvent",
    "response.function_call_arguments.done": "ResponseFunctionCallArgumentsDoneStreamingEvent",
}


def check_response(body: dict[str, Any]) -> None:
    """Every always-present key, an int created_at, and (for MCP-free outputs) Open Responses."""
    missing = RESPONSE_KEYS - body.keys()
    assert not missing, f"missing keys: {missing}"
    assert isinstance(body["created_at"], int)
    if all(item["type"] in ("message", "function_call", "reasoning") for item in body["output"]):
        fmt = body["text"]["format"]
        if fmt["type"] == "json_schema":
            # openresponses-types 2.4 types json_schema's `schema` as null (a generator slip):
            # check everything else.
            body = {**body, "text": {**body["text"], "format": {**fmt, "schema": None}}}
        open_responses.ResponseResource.model_validate(body)


def check_event(event: dict[str, Any]) -> None:
    model = _OPEN_RESPONSES_EVENTS.get(event["type"])
    if model is None:
        return
    item = event.get("item") or {}
    if item.get("type", "message") not in ("message", "function_call", "reasoning"):
        return  # Open Responses has no MCP items
    getattr(open_responses, model).model_validate(event)
    if "response" in event:
        check_response(event["response"])


def read_sse(response: httpx.Response) -> list[dict[str, Any]]:
    """Parse a whole event stream strictly: `event:` then one-line `data:`, LF only, [DONE] last."""
    raw = response.read()
    assert b"\r" not in raw
    blocks = raw.decode().split("\n\n")
    assert blocks[-1] == ""
    assert blocks[-2] == "data: [DONE]"
    events = []
    for block in blocks[:-2]:
        lines = block.split("\n")
        assert len(lines) == 2, block
        assert lines[0].startswith("event: ") and lines[1].startswith("data: ")
        event = orjson.loads(lines[1][6:])
        assert event["type"] == lines[0][7:]
        events.append(event)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    for event in events:
        check_event(event)
    return events


def create_checked(client: Any, **params: Any) -> Any:
    """``client.responses.create`` that also checks the raw JSON the gateway sent."""
    raw = client.responses.with_raw_response.create(**params)
    check_response(raw.http_response.json())
    return raw.parse()
