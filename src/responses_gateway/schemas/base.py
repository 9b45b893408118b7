"""What every request model shares: strict types, ``null`` as "the default", bounded ids.

- Strict: ``"stream": "yes"`` or ``"store": 1`` is a 400, never a quiet coercion that changes
  meaning (an int still counts as a float, as in JSON).
- ``null`` on an optional field means its default, as clients such as LlamaIndex send it
  (``"include": null``, ``"store": null``). ``OrNull[T]`` is ``T`` to the type checker and
  ``T | None`` to pydantic, with ``None`` replaced by the field's default; the JSON is still
  validated in JSON mode (no Python round trip).
- Ids and the model name go into indexed columns (``store/tables.py``): they are bounded to the
  column and may not hold NUL, which PostgreSQL cannot store, so both databases answer the same
  400 before the model runs. Free text is stored JSON-escaped, so NUL in it is kept as sent.
- Free-form JSON (a tool's ``parameters``, a schema) is checked to be encodable: an integer
  beyond 64 bits would otherwise fail later, when it is sent upstream or stored.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticUseDefault

ID_MAX = 64  # responses.id, response_items.item_id, previous_response_id
MODEL_MAX = 256  # responses.model
INT32_MAX = 2_147_483_647


class StrictModel(BaseModel):
    # SDKs send fields newer than ours: unknown ones are ignored, known ones are typed.
    model_config = ConfigDict(extra="ignore", strict=True)


def _use_default(value: Any) -> Any:
    if value is None:
        raise PydanticUseDefault()
    return value


T = TypeVar("T")

if TYPE_CHECKING:
    OrNull = Annotated[T, "null means the default"]
else:

    class OrNull:
        def __class_getitem__(cls, item: Any) -> Any:
            return Annotated[item | None, AfterValidator(_use_default)]


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def plausible_id(value: str) -> bool:
    """Whether ``value`` could be a stored id (longer or NUL-holding ones cannot exist)."""
    return len(value) <= ID_MAX and "\x00" not in value


Id = Annotated[str, Field(max_length=ID_MAX), AfterValidator(_no_nul)]
ModelName = Annotated[str, Field(min_length=1, max_length=MODEL_MAX), AfterValidator(_no_nul)]


def json_safe(value: T) -> T:
    """``value`` if orjson can encode it (the gateway sends and stores it so), else a 400."""
    try:
        orjson.dumps(value)
    except TypeError:
        raise ValueError("integers must fit in 64 bits") from None
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(json_safe)]
"""A free-form JSON object that the gateway can send on and store as it came."""
JsonValue = Annotated[Any, AfterValidator(json_safe)]
"""Any free-form JSON value, likewise."""


class EncodedJson(dict[str, Any]):
    """A JSON object that keeps the bytes ``json_safe`` encoded it to, for ``encode_json``: a
    function tool's ``parameters`` is echoed in every lifecycle event and sent upstream each
    round, and a Codex-sized request's 37 schemas cost ~0.2 M instructions per encoding
    (callgrind). A dict like any other wherever else it goes; it must not change once made
    (nothing changes a tool's parameters). Copies are plain dicts, so they may."""

    __slots__ = ("encoded",)
    encoded: bytes

    def __reduce__(self) -> tuple[type[dict[str, Any]], tuple[dict[str, Any]]]:
        return dict, (dict(self),)

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return copy.deepcopy(dict(self), memo)


def _encoded_json(value: dict[str, Any]) -> EncodedJson:
    try:
        encoded = orjson.dumps(value)
    except TypeError:
        raise ValueError("integers must fit in 64 bits") from None
    kept = EncodedJson(value)
    kept.encoded = encoded
    return kept


EncodedJsonObject = Annotated[dict[str, Any], AfterValidator(_encoded_json)]
"""A ``JsonObject`` kept with its bytes (``EncodedJson``)."""


def _reused(value: Any) -> Any:
    if type(value) is EncodedJson:
        return orjson.Fragment(value.encoded)
    return orjson.Fragment(orjson.dumps(value))  # any other subclass, encoded as orjson would


def encode_json(value: Any) -> bytes:
    """``orjson.dumps(value)``, the same bytes, with each ``EncodedJson`` in it not encoded
    again (subclasses of dict, list, str and int go to ``_reused``)."""
    return orjson.dumps(value, default=_reused, option=orjson.OPT_PASSTHROUGH_SUBCLASS)
