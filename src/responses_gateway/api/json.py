"""One parse per request body, one orjson dump per answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import orjson
from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from responses_gateway.api.limits import bounded_model, read_body, too_many_items
from responses_gateway.errors import InvalidRequest
from responses_gateway.schemas.items import TAGS

Model = TypeVar("Model", bound=BaseModel)


class JSONBody(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)

    def init_headers(self, headers: Mapping[str, str] | None = None) -> None:
        """Starlette's headers for a body with none given, without its general checks (the
        charset, the given names): the same two headers, in its order."""
        if headers is not None or self.status_code < 200 or self.status_code in (204, 304):
            super().init_headers(headers)
            return
        self.raw_headers = [(b"content-length", str(len(self.body)).encode()), _JSON_TYPE]


_JSON_TYPE = (b"content-type", b"application/json")


async def parse_body(request: Request, model: type[Model]) -> Model:
    """The body as ``model``, bounded by the app's limits (``api/limits.py``)."""
    raw = await read_body(request)
    try:
        return bounded_model(model, request, raw).model_validate_json(raw)
    except ValidationError as exc:
        raise validation_error(exc) from None


def validation_error(exc: ValidationError) -> InvalidRequest:
    """The first problem, named the way OpenAI names parameters (``input[0].content``)."""
    # With unions (input: str | list) pydantic reports every branch: the deepest is the useful
    # one, and among equals the one that is not "this branch has another type".
    error = max(
        _relevant(exc.errors()), key=lambda e: (len(e["loc"]), not e["type"].endswith("_type"))
    )
    kind = error["type"]
    if kind == "json_invalid":
        return InvalidRequest(
            "We could not parse the JSON body of your request: " + error["msg"],
            code="invalid_json",
        )
    if kind == "model_type" and not error["loc"]:
        return InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    param = _param(error["loc"])
    if kind in ("invalid_item", "union_tag_invalid", "union_tag_not_found"):
        return _unknown_type(param, error["input"], kind == "invalid_item")
    if kind == "missing":
        return _missing(param)
    if kind == "too_long" and param == "input":
        return too_many_items(error.get("ctx", {}).get("max_length", 0))
    message = error["msg"].removeprefix("Value error, ")
    return InvalidRequest(
        f"Invalid value for '{param}': {message}.", param=param, code="invalid_value"
    )


_MISMATCH = frozenset({"literal_error"})


def _relevant(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """Drop the errors of union branches whose ``type`` is another: for an MCP tool with a bad
    header, what the function-tool branch thinks of it does not matter."""
    other = {e["loc"][:-1] for e in errors if e["type"] in _MISMATCH and e["loc"][-1:] == ("type",)}
    kept = [e for e in errors if not any(e["loc"][: len(branch)] == branch for branch in other)]
    return kept or errors


def _missing(param: str) -> InvalidRequest:
    return InvalidRequest(
        f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
    )


def _unknown_type(param: str, value: Any, item: bool) -> InvalidRequest:
    """An input item or content part whose ``type`` the gateway does not know, by name."""
    kind = value.get("type") if isinstance(value, dict) else None
    param = f"{param}.type"
    if kind is None:
        return _missing(param)
    shown = repr(kind)[:64] if not isinstance(kind, str) else f"'{kind[:64]}'"
    what = "input item type" if item else "type"
    return InvalidRequest(
        f"Invalid value for '{param}': unsupported {what} {shown}.",
        param=param,
        code="invalid_value",
    )


_TYPE_NAMES = frozenset({"str", "int", "float", "bool", "list", "dict", "none", "literal"})
_FORMAT_TAGS = frozenset({"text", "json_object", "json_schema"})  # text.format's discriminator
_MAPPINGS = frozenset({"headers", "metadata"})  # the part after one of these is a user's key


def _param(loc: tuple[Any, ...]) -> str:
    out = ""
    previous: Any = None
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif previous in _MAPPINGS or not _is_branch(str(part), previous):
            out += f".{part}" if out else str(part)
        previous = part
    return out


def _is_branch(text: str, previous: Any) -> bool:
    """Union branches and discriminator tags show up in pydantic's loc; OpenAI's names skip them."""
    return (
        not text.isidentifier()
        or text[:1].isupper()
        or text in _TYPE_NAMES
        or (isinstance(previous, int) and text in TAGS)
        or (previous == "format" and text in _FORMAT_TAGS)
    )
