"""Bodies of the Conversations API (``/v1/conversations``), in OpenAI's names."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from responses_gateway.schemas.items import InputItem
from responses_gateway.schemas.request import check_metadata

MAX_ITEMS_PER_CALL = 20  # OpenAI's limit, for create and for items.create


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


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
