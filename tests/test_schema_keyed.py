"""The keyed parse of the create body (``schemas/keyed.py``) answers as the model's own validator:
the same request for every body either accepts, the same errors for every body it refuses."""

from __future__ import annotations

import sys
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from responses_gateway.schemas.items import item_dict
from responses_gateway.schemas.keyed import _validator
from responses_gateway.schemas.request import CreateResponseRequest

_FUNCTION = {"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}}
_NAMESPACE = {"type": "namespace", "name": "ns", "tools": [_FUNCTION]}
_CUSTOM = {"type": "custom", "name": "apply_patch", "format": {"type": "text"}}

# Bodies the keyed copy takes itself: every item and tool is decided by a key.
KEYED: list[dict[str, Any]] = [
    {"model": "m", "input": "hi"},
    {
        "model": "m",
        "input": [
            {"type": "message", "role": "user", "content": "hi"},
            {"role": "developer", "content": [{"type": "input_text", "text": "be brief"}]},
            {"role": "assistant", "content": [{"type": "output_text", "text": "ok"}]},
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "t"}]},
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c", "output": "4"},
            {"type": "custom_tool_call", "call_id": "p", "name": "apply_patch", "input": "x"},
            {"type": "custom_tool_call_output", "call_id": "p", "output": "done"},
            {"type": "item_reference", "id": "msg_1"},
        ],
        "tools": [_FUNCTION, _NAMESPACE, _CUSTOM, {"type": "web_search"}, {"type": "tool_search"}],
    },
]
# Bodies it leaves to the model's validator, which accepts them.
UNKEYED = [
    {"model": "m", "input": [{"id": "msg_1"}]},  # a typeless item reference
    {"model": "m", "input": [{"type": None, "role": "user", "content": "hi"}]},
    {"model": "m", "input": "hi", "tools": [{"type": "a_tool_from_the_future", "x": 1}]},
]
REFUSED = [
    {"model": "m", "input": [{"role": "bot", "content": "hi"}]},
    {"model": "m", "input": [{"type": "message", "role": "user", "content": 5}]},
    {"model": "m", "input": [{"content": "hi"}]},
    {"model": "m", "input": [{"type": "nonsense"}]},
    {"model": "m", "input": ["text"]},
    {"model": "m", "input": "hi", "tools": [{"type": "function", "name": "bad name"}]},
    {"model": "m", "input": "hi", "tools": [{"type": "function", "name": "f", "parameters": 1}]},
    {"model": "m", "input": "hi", "tools": [dict(_NAMESPACE, tools=[{"type": "mcp"}])]},
    {"model": "m", "input": "hi", "tools": [{"name": "f"}]},
    {"model": "m", "input": "hi", "stream": "yes"},
]


def _raw(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body)


def _own(raw: bytes) -> CreateResponseRequest:
    request: CreateResponseRequest = CreateResponseRequest.__pydantic_validator__.validate_json(raw)
    return request


@pytest.mark.parametrize("body", KEYED)
def test_keyed_bodies_parse_as_the_model_does(body: dict[str, Any]) -> None:
    raw = _raw(body)
    keyed = _validator(CreateResponseRequest).validate_json(raw)
    assert type(keyed) is CreateResponseRequest
    assert keyed == _own(raw) == CreateResponseRequest.model_validate_json(raw)


def test_duplicate_keys_parse_as_the_model_does() -> None:
    raw = b'{"model":"m","input":[{"type":"message","type":"function_call","call_id":"c",'
    raw += b'"name":"f","arguments":""}]}'
    assert CreateResponseRequest.model_validate_json(raw) == _own(raw)


@pytest.mark.parametrize("body", UNKEYED)
def test_other_bodies_fall_back_to_the_model(body: dict[str, Any]) -> None:
    raw = _raw(body)
    with pytest.raises(ValidationError):
        _validator(CreateResponseRequest).validate_json(raw)
    assert CreateResponseRequest.model_validate_json(raw) == _own(raw)


@pytest.mark.parametrize("body", REFUSED)
def test_refusals_are_the_models_own(body: dict[str, Any]) -> None:
    raw = _raw(body)
    with pytest.raises(ValidationError) as own:
        _own(raw)
    with pytest.raises(ValidationError) as keyed:
        CreateResponseRequest.model_validate_json(raw)
    assert keyed.value.errors() == own.value.errors()


ITEMS_WITH_NULLS = [  # (an input item as given, as kept)
    (
        {
            "role": "user",
            "id": None,
            "content": [
                {"type": "input_image", "image_url": "data:,x", "file_id": None},
                {"type": "input_text", "text": "hi"},
            ],
        },
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_image", "image_url": "data:,x", "detail": "auto"},
                {"type": "input_text", "text": "hi"},
            ],
        },
    ),
    (
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "t"}]},
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "t"}]},
    ),
    (
        {"type": "web_search_call", "id": "ws_1", "action": {"a": None}, "status": None},
        {"type": "web_search_call", "id": "ws_1", "action": {"a": None}},
    ),
    (
        {
            "type": "mcp_call",
            "server_label": "s",
            "name": "n",
            "arguments": "{}",
            "error": {"type": "mcp_tool_execution_error", "message": None},
        },
        {
            "type": "mcp_call",
            "server_label": "s",
            "name": "n",
            "arguments": "{}",
            "error": {"type": "mcp_tool_execution_error"},
        },
    ),
    ({"type": "tool_search_call", "arguments": None}, {"type": "tool_search_call"}),
]


def test_items_are_kept_without_their_nulls() -> None:
    """Keys given as null are dropped as absent ones are (items and parts), nested models become
    dicts, and nulls inside free-form JSON stay."""
    raw = _raw({"model": "m", "input": [given for given, _ in ITEMS_WITH_NULLS]})
    request = CreateResponseRequest.model_validate_json(raw)
    assert isinstance(request.input, list)
    assert [item_dict(item) for item in request.input] == [kept for _, kept in ITEMS_WITH_NULLS]
    assert request.input[0]["id"] is None  # the request itself is left as validated


def test_keyed_parse_calls_no_discriminator_function() -> None:
    """The point of the copy: no item or tool is handed to ``_item_tag`` / ``_tool_tag`` (were
    pydantic-core to reuse the model's validator for it, it would be as slow as before)."""
    called: list[str] = []

    def watch(frame: Any, event: str, _arg: Any) -> None:
        if event == "call" and frame.f_code.co_name in ("_item_tag", "_tool_tag"):
            called.append(frame.f_code.co_name)

    sys.setprofile(watch)
    try:
        CreateResponseRequest.model_validate_json(_raw(KEYED[1]))
    finally:
        sys.setprofile(None)
    assert called == []
