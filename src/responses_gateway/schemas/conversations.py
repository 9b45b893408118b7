"""Bodies of the Conversations API (``/v1/conversations``), in OpenAI's names."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, ValidationError, field_validator

from responses_gateway.schemas.items import InputItem
from responses_gateway.schemas.keyed import KeyedJson
from responses_gateway.schemas.request import check_metadata

MAX_ITEMS_PER_CALL = 20  # OpenAI's limit, for create and for items.create


class _Body(KeyedJson):
    model_config = ConfigDict(extra="ignore")

    @classmethod
    def refuse_parsed(cls, data: Any) -> None:
        """Too many ``items``, refused on the parsed JSON: pydantic refuses a list over
        ``max_length`` only after validating every item (200,000 of them: ~1 s), with the
        error it would have given, so the answer is the same."""
        items = data.get("items") if isinstance(data, dict) else None
        if isinstance(items, list) and len(items) > MAX_ITEMS_PER_CALL:
            ctx = {
                "field_type": "List",
                "max_length": MAX_ITEMS_PER_CALL,
                "actual_length": len(items),
            }
            error: Any = {"type": "too_long", "loc": ("items",), "input": None, "ctx": ctx}
            raise ValidationError.from_exception_data(cls.__name__, [error])


class CreateConversationRequest(_Body):
    items: list[InputItem] | None = Field(default=None, max_length=MAX_ITEMS_PER_CALL)
    metadata: dict[str, str] | None = None

    @field_validator("metadata")
    @classmethod
    def _metadata_limits(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return check_metadata(value)


class UpdateConversationRequest(_Body):
    metadata: dict[str, str]

    @field_validator("metadata")
    @classmethod
    def _metadata_limits(cls, value: dict[str, str]) -> dict[str, str]:
        return check_metadata(value) or {}


class CreateItemsRequest(_Body):
    items: list[InputItem] = Field(min_length=1, max_length=MAX_ITEMS_PER_CALL)
