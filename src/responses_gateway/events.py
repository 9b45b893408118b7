"""Responses streaming events, by OpenAI's names (``ResponseStreamEvent``).

Events are plain dicts: they are encoded the moment the orchestrator yields them (see ``sse.py``), so
they may hold live item dicts that change later. ``sequence_number`` is stamped by the encoder.
"""

from __future__ import annotations

from typing import Any

import orjson

from responses_gateway.schemas.base import encode_json

Event = dict[str, Any]


class EchoedTools(list[dict[str, Any]]):
    """The ``tools`` a Response echoes, encoded once for all its lifecycle events: they are the
    same in each (created, in_progress, the terminal one), and a Codex-sized request's 40 tools
    cost 0.31 M instructions to encode, of the 0.37 M its whole Response costs (callgrind). A
    list like any other wherever else it goes (orjson encodes list subclasses as lists); it
    must not change once encoded, and the echo never changes. Function tools' ``parameters``
    are not encoded again either (``EncodedJson``)."""

    __slots__ = ("_encoded",)

    def encoded(self) -> orjson.Fragment:
        try:
            return self._encoded
        except AttributeError:
            self._encoded: orjson.Fragment = orjson.Fragment(encode_json(list(self)))
            return self._encoded


def lifecycle(kind: str, response: dict[str, Any]) -> Event:
    """``response.created`` / ``in_progress`` / ``completed`` / ``incomplete`` / ``failed``.

    The event holds a copy of ``response`` whose echoed tools are their JSON (``EchoedTools``):
    only orjson reads events (every emit encodes at once), while ``response`` itself may be
    stored or answered as it is."""
    tools = response.get("tools")
    if type(tools) is EchoedTools and tools:
        response = {**response, "tools": tools.encoded()}  # the key keeps its place
    return {"type": f"response.{kind}", "response": response}


def item_added(output_index: int, item: dict[str, Any]) -> Event:
    return {"type": "response.output_item.added", "output_index": output_index, "item": item}


def content_part(
    stage: str, item_id: str, output_index: int, content_index: int, part: dict[str, Any]
) -> Event:
    """``response.content_part.added`` / ``.done``."""
    return {
        "type": f"response.content_part.{stage}",
        "item_id": item_id,
        "output_index": output_index,
        "content_index": content_index,
        "part": part,
    }


_TEXT_EVENTS = {
    "output_text": ("response.output_text", "text"),
    "refusal": ("response.refusal", "refusal"),
    "reasoning_text": ("response.reasoning_text", "text"),
}


_DELTA_TYPES = {part: prefix + ".delta" for part, (prefix, _) in _TEXT_EVENTS.items()}


def text_delta(
    part_type: str, item_id: str, output_index: int, content_index: int, delta: str
) -> Event:
    event: Event = {
        "type": _DELTA_TYPES[part_type],
        "item_id": item_id,
        "output_index": output_index,
        "content_index": content_index,
        "delta": delta,
    }
    if part_type == "output_text":
        event["logprobs"] = []
    return event


def text_done(
    part_type: str, item_id: str, output_index: int, content_index: int, text: str
) -> Event:
    prefix, field = _TEXT_EVENTS[part_type]
    event: Event = {
        "type": prefix + ".done",
        "item_id": item_id,
        "output_index": output_index,
        "content_index": content_index,
        field: text,
    }
    if part_type == "output_text":
        event["logprobs"] = []
    return event


def arguments_delta(kind: str, item_id: str, output_index: int, delta: str) -> Event:
    """``response.function_call_arguments.delta`` or ``response.mcp_call_arguments.delta``."""
    return {
        "type": f"response.{kind}_arguments.delta",
        "item_id": item_id,
        "output_index": output_index,
        "delta": delta,
    }


def arguments_done(kind: str, item_id: str, output_index: int, arguments: str) -> Event:
    return {
        "type": f"response.{kind}_arguments.done",
        "item_id": item_id,
        "output_index": output_index,
        "arguments": arguments,
    }


def item_progress(kind: str, stage: str, item_id: str, output_index: int) -> Event:
    """``response.mcp_list_tools.*``, ``response.mcp_call.*`` (in_progress/completed/failed) and
    ``response.web_search_call.*`` (in_progress/searching/completed)."""
    return {"type": f"response.{kind}.{stage}", "item_id": item_id, "output_index": output_index}


def summary(kind: str, stage: str, item_id: str, output_index: int, text: str) -> Event:
    """``response.reasoning_summary_part.added`` / ``.done`` (``kind`` "part") and
    ``response.reasoning_summary_text.delta`` / ``.done`` (``kind`` "text"; ``text`` is the delta
    for ``delta``). The gateway's reasoning items have one summary part, index 0."""
    event: Event = {
        "type": f"response.reasoning_summary_{kind}.{stage}",
        "item_id": item_id,
        "output_index": output_index,
        "summary_index": 0,
    }
    if kind == "part":
        event["part"] = {"type": "summary_text", "text": text}
    else:
        event["delta" if stage == "delta" else "text"] = text
    return event


def custom_input(stage: str, item_id: str, output_index: int, text: str) -> Event:
    """``response.custom_tool_call_input.delta`` / ``.done``."""
    return {
        "type": f"response.custom_tool_call_input.{stage}",
        "item_id": item_id,
        "output_index": output_index,
        "delta" if stage == "delta" else "input": text,
    }
