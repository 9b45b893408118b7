"""One parse per request body, one orjson dump per answer."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from responses_gateway.errors import InvalidRequest
from responses_gateway.schemas.items import TAGS

Model = TypeVar("Model", bound=BaseModel)


class JSONBody(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


async def parse_body(request: Request, model: type[Model]) -> Model:
    raw = await request.body()
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise validation_error(exc) from None


def validation_error(exc: ValidationError) -> InvalidRequest:
    """The first problem, named the way OpenAI names parameters (``input[0].content``)."""
    # With unions (input: str | list) pydantic reports every branch: the deepest is the useful one.
    error = max(exc.errors(), key=lambda e: len(e["loc"]))
    if error["type"] == "json_invalid":
        return InvalidRequest(
            "We could not parse the JSON body of your request: " + error["msg"],
            code="invalid_json",
        )
    if error["type"] == "model_type" and not error["loc"]:
        return InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    param = _param(error["loc"])
    if error["type"] == "missing":
        return InvalidRequest(
            f"Missing required parameter: '{param}'.",
            param=param,
            code="missing_required_parameter",
        )
    return InvalidRequest(
        f"Invalid value for '{param}': {error['msg']}.", param=param, code="invalid_value"
    )


_TYPE_NAMES = frozenset({"str", "int", "float", "bool", "list", "dict", "none", "literal"})


def _param(loc: tuple[Any, ...]) -> str:
    out = ""
    previous: Any = None
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _is_branch(str(part), after_index=isinstance(previous, int)):
            out += f".{part}" if out else str(part)
        previous = part
    return out


def _is_branch(text: str, *, after_index: bool) -> bool:
    """Union branches and discriminator tags show up in pydantic's loc; OpenAI's names skip them."""
    return (
        not text.isidentifier()
        or text[:1].isupper()
        or text in _TYPE_NAMES
        or (after_index and text in TAGS)
    )
