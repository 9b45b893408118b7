"""The body of ``POST /v1/responses/compact``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from responses_gateway.schemas.items import InputItem


class CompactRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1)
    input: str | list[InputItem] | None = None
    instructions: str | None = None
    previous_response_id: str | None = None
    prompt_cache_key: str | None = None
