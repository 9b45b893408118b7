"""A faster JSON parse of the create body, with the model's own results and errors.

Input items and tools pick their model with a Python function (``_item_tag``, ``_tool_tag``):
a message may come without ``type``, an item reference with only an ``id``, and any unknown tool
type is kept as a ``HostedTool`` (refused later, by name). In JSON mode pydantic-core converts each
whole item and tool to Python objects to call such a function. The common cases are decided by a
key instead (an item's ``type``, or its ``role`` when it has none; a tool's ``type``), which
pydantic-core reads on the JSON itself: ``KeyedJson.model_validate_json`` first validates with a
copy of the model's schema whose unions do that, and with the model's own validator when the copy
refuses the body (a typeless reference, an unknown tool type, any mistake), so errors are what
they always were. Every key value selects what the function would have selected, so whatever the
copy accepts, the model accepts the same way. Measured (callgrind, bench/codex_request.py's body:
100 items, 40 tools): 6.10 M instructions per parse with the model's validator, 4.22 M with the
copy. The price: a body the copy refuses is parsed twice (a 400, or one of the rare shapes above).

The copy validates Python objects that pydantic-core's own JSON parser made (``from_json``: the
same values as JSON mode, integers beyond 64 bits included), not the JSON: free-form values
(``Any``: schemas, outputs, arguments) are then kept as parsed rather than rebuilt. That body:
4.26 → 3.75 M instructions to parse, the whole Codex-sized request 14.62 → 13.34 M. Of what the
parser makes (dicts, lists, strings, numbers, booleans, None), strict Python mode accepts
nothing that strict JSON mode refuses (a JSON number is a float in both, only a JSON string a
``str``); it refuses some (a tuple, set or enum wants its own type): whatever it refuses goes to
the model's own validator in JSON mode, so errors stay JSON mode's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Self

from pydantic import BaseModel, ValidationError
from pydantic.config import ExtraValues
from pydantic_core import SchemaValidator, from_json


@dataclass(frozen=True)
class _Keyed:
    path: str | list[list[str]]  # pydantic-core's lookup: a key, or keys tried in turn
    aliases: Mapping[str, str]  # key value → the function's tag (a tag also selects itself)


_KEYED: dict[Callable[[Any], Any], _Keyed] = {}


def keyed(
    discriminator: Callable[[Any], Any], path: str | list[list[str]], aliases: Mapping[str, str]
) -> Callable[[Any], Any]:
    """``discriminator``, registered as decidable by ``path`` for the values of ``aliases``."""
    _KEYED[discriminator] = _Keyed(path, aliases)
    return discriminator


def _keyed_schema(schema: Any) -> Any:
    """A copy of a core schema with every registered function-discriminated union keyed."""
    if isinstance(schema, list):
        return [_keyed_schema(part) for part in schema]
    if not isinstance(schema, dict):
        return schema
    copy = {key: _keyed_schema(value) for key, value in schema.items()}
    discriminator = copy.get("discriminator")
    found = _KEYED.get(discriminator) if callable(discriminator) else None
    if copy.get("type") == "tagged-union" and found is not None:
        choices = copy["choices"]
        copy["choices"] = choices | {value: choices[tag] for value, tag in found.aliases.items()}
        copy["discriminator"] = found.path
    return copy


@functools.cache
def _validator(model: type[BaseModel]) -> SchemaValidator:
    schema = _keyed_schema(model.__pydantic_core_schema__)
    root = schema["schema"] if schema["type"] == "definitions" else schema
    # pydantic-core builds a complete model's schema as that model's own validator (it reuses
    # "prebuilt" validators), which would undo the copy: the model is marked incomplete meanwhile.
    model.__pydantic_complete__ = False
    try:
        return SchemaValidator(schema, root.get("config"))
    finally:
        model.__pydantic_complete__ = True


class KeyedJson(BaseModel):
    """A model whose JSON is parsed with keyed unions first (see the module's docstring)."""

    @classmethod
    def refuse_parsed(cls, data: Any) -> None:
        """A look at the parsed JSON before anything is validated, for a subclass to refuse it
        cheaply (``api/limits.py`` counts input items): by default, nothing is refused."""

    @classmethod
    def model_validate_json(
        cls,
        json_data: str | bytes | bytearray,
        *,
        strict: bool | None = None,
        extra: ExtraValues | None = None,
        context: Any | None = None,
        by_alias: bool | None = None,
        by_name: bool | None = None,
    ) -> Self:
        if all(option is None for option in (strict, extra, context, by_alias, by_name)):
            try:
                data = from_json(json_data)
            except ValueError:
                pass  # not JSON: the model's own validator says where
            else:
                cls.refuse_parsed(data)
                try:
                    parsed: Self = _validator(cls).validate_python(data)
                    return parsed
                except ValidationError:
                    pass  # the model's own validator names the problem
        return super().model_validate_json(
            json_data,
            strict=strict,
            extra=extra,
            context=context,
            by_alias=by_alias,
            by_name=by_name,
        )
