"""The body of ``POST /v1/responses/input_tokens``: a create's fields, ``input`` optional."""

from __future__ import annotations

from pydantic import Field

from responses_gateway.schemas.items import InputItem
from responses_gateway.schemas.request import CreateResponseRequest


class InputTokensRequest(CreateResponseRequest):
    input: str | list[InputItem] = Field(default_factory=list)
