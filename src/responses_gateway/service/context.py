"""This turn's input items, normalised and checked against the context they continue.

Checks that need the context (a ``function_call_output`` must answer a ``function_call``; an
``item_reference`` or ``mcp_approval_response`` must name something known) happen here, before the
first event, so a mistake is a 400 and never a half-run response.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from responses_gateway.chat.parts import check_parts
from responses_gateway.errors import InvalidRequest
from responses_gateway.ids import new_id, new_ids
from responses_gateway.schemas.items import item_dict
from responses_gateway.schemas.request import CreateResponseRequest

_ID_PREFIX = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "reasoning": "rs",
    "mcp_list_tools": "mcpl",
    "mcp_call": "mcp",
    "mcp_approval_request": "mcpr",
    "mcp_approval_response": "mcpa",
    "compaction": "cmp",
    "compaction_trigger": "cmpt",
    "custom_tool_call": "ctc",
    "custom_tool_call_output": "ctco",
    "additional_tools": "at",
    "tool_search_call": "tsc",
    "tool_search_output": "tso",
    "web_search_call": "ws",
}
_CALLS = frozenset({"function_call", "custom_tool_call"})
_OUTPUTS = frozenset({"function_call_output", "custom_tool_call_output"})

FindItems = Callable[[list[str]], Awaitable[dict[str, dict[str, Any]]]]


def normalise_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A validated input item as stored: nulls dropped, string content as its part, an id."""
    data = _without_id(item)
    if not data.get("id"):
        data["id"] = new_id(_ID_PREFIX[data["type"]])
    return data


def _without_id(item: Mapping[str, Any]) -> dict[str, Any]:
    """``normalise_item`` but for the id, which the caller gives if the item has none."""
    data = item_dict(item)
    if data["type"] == "message" and isinstance(data["content"], str):
        part: dict[str, Any] = {"type": "input_text", "text": data["content"]}
        if data["role"] == "assistant":
            part.update(type="output_text", annotations=[])
        data["content"] = [part]
    return data


async def input_items(
    request: CreateResponseRequest, history: list[dict[str, Any]], find_items: FindItems
) -> list[dict[str, Any]]:
    """Normalise the input (string → a user message; ids given to items without one)."""
    if isinstance(request.input, str):
        text = {"type": "input_text", "text": request.input}
        return [{"id": new_id("msg"), "type": "message", "role": "user", "content": [text]}]
    items: list[dict[str, Any]] = []
    references: list[tuple[int, str]] = []
    for position, item in enumerate(request.input):
        if item["type"] == "item_reference":
            references.append((position, item["id"]))
            items.append({})
        else:
            items.append(_without_id(item))
    _give_ids(items)
    if references:
        await _resolve_references(items, references, history, find_items)
    _check_calls(history, items)
    check_parts(items)
    return items


def _give_ids(items: list[dict[str, Any]]) -> None:
    """An id for each item without one, drawn at once (``new_ids``); references' places (empty
    for now) are left alone."""
    missing = [item for item in items if item and not item.get("id")]
    for item, item_id in zip(
        missing, new_ids([_ID_PREFIX[item["type"]] for item in missing]), strict=True
    ):
        item["id"] = item_id


async def _resolve_references(
    items: list[dict[str, Any]],
    references: list[tuple[int, str]],
    history: list[dict[str, Any]],
    find_items: FindItems,
) -> None:
    known = {item.get("id"): item for item in history}
    missing = list(dict.fromkeys(ref for _, ref in references if ref not in known))
    if missing:
        known.update(await find_items(missing))
    for position, ref in references:
        if ref not in known:
            raise InvalidRequest(f"Item with id '{ref}' not found.", param=f"input[{position}].id")
        items[position] = known[ref]


def _check_calls(history: list[dict[str, Any]], items: list[dict[str, Any]]) -> None:
    call_ids = {item["call_id"] for item in history if item.get("type") in _CALLS}
    approvals = {item["id"] for item in history if item.get("type") == "mcp_approval_request"}
    for position, item in enumerate(items):
        kind = item["type"]
        if kind in _CALLS:
            call_ids.add(item["call_id"])
        elif kind == "mcp_approval_request":
            approvals.add(item["id"])
        elif kind in _OUTPUTS and item["call_id"] not in call_ids:
            what = kind.removesuffix("_output").replace("_", " ")
            raise InvalidRequest(
                f"No tool call found for {what} output with call_id {item['call_id']}.",
                param=f"input[{position}]",
            )
        elif kind == "mcp_approval_response" and item["approval_request_id"] not in approvals:
            raise InvalidRequest(
                f"No MCP approval request found with id {item['approval_request_id']}.",
                param=f"input[{position}]",
            )
