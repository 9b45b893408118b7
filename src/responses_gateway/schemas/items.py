"""Input items of ``POST /v1/responses`` (OpenAI names; ``type`` optional on messages and references).

Items are validated into plain dicts (TypedDicts; ``item_dict`` drops the keys given as null): the
orchestrator, the store and the event encoder all work on the JSON shapes the API documents, so
nothing is converted twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, NotRequired, get_args

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, with_config
from typing_extensions import TypedDict  # pydantic needs it before Python 3.12

from responses_gateway.schemas.base import (
    INT32_MAX,
    Id,
    JsonObject,
    JsonValue,
    OrNull,
    StrictModel,
)
from responses_gateway.schemas.keyed import keyed

_Item = StrictModel
_STRICT = ConfigDict(extra="ignore", strict=True)  # StrictModel's, for the TypedDicts


@with_config(_STRICT)
class InputText(TypedDict):
    type: Literal["input_text"]
    text: str


@with_config(_STRICT)
class InputImage(TypedDict):
    type: Literal["input_image"]
    image_url: NotRequired[str | None]
    file_id: NotRequired[str | None]
    detail: NotRequired[
        Annotated[OrNull[Literal["low", "high", "auto", "original"]], Field(default="auto")]
    ]


@with_config(_STRICT)
class InputFile(TypedDict):
    type: Literal["input_file"]
    file_data: NotRequired[str | None]
    file_id: NotRequired[str | None]
    file_url: NotRequired[str | None]
    filename: NotRequired[str | None]


@with_config(_STRICT)
class OutputText(TypedDict):
    type: Literal["output_text"]
    text: str
    annotations: NotRequired[Annotated[OrNull[list[JsonObject]], Field(default_factory=list)]]


@with_config(_STRICT)
class Refusal(TypedDict):
    type: Literal["refusal"]
    refusal: str


# Models, not TypedDicts, where a list holds them outside a union: an element that is not an
# object is refused as "a valid dictionary or instance of SummaryText", as it always was.
class SummaryText(_Item):
    type: Literal["summary_text"]
    text: str


class ReasoningText(_Item):
    type: Literal["reasoning_text"]
    text: str


ContentPart = Annotated[
    InputText | InputImage | InputFile | OutputText | Refusal, Field(discriminator="type")
]


Role = Literal["user", "assistant", "system", "developer"]


@with_config(_STRICT)
class Message(TypedDict):
    type: NotRequired[Annotated[OrNull[Literal["message"]], Field(default="message")]]
    id: NotRequired[Id | None]
    role: Role
    content: str | list[ContentPart]
    status: NotRequired[str | None]
    phase: NotRequired[Literal["commentary", "final_answer"] | None]


@with_config(_STRICT)
class FunctionCall(TypedDict):
    type: Literal["function_call"]
    id: NotRequired[Id | None]
    call_id: str
    name: str
    arguments: str
    namespace: NotRequired[str | None]
    status: NotRequired[str | None]


ToolOutput = str | list[Annotated[InputText | InputImage | InputFile, Field(discriminator="type")]]


@with_config(_STRICT)
class FunctionCallOutput(TypedDict):
    type: Literal["function_call_output"]
    id: NotRequired[Id | None]
    call_id: str
    output: ToolOutput
    status: NotRequired[str | None]


@with_config(_STRICT)
class CustomToolCall(TypedDict):
    type: Literal["custom_tool_call"]
    id: NotRequired[Id | None]
    call_id: str
    name: str
    input: str
    namespace: NotRequired[str | None]
    status: NotRequired[str | None]


@with_config(_STRICT)
class CustomToolCallOutput(TypedDict):
    type: Literal["custom_tool_call_output"]
    id: NotRequired[Id | None]
    call_id: str
    output: ToolOutput


@with_config(_STRICT)
class AdditionalTools(TypedDict):
    """Tools declared inside the input (Codex, for models it knows); validated as ``tools`` are,
    where the catalog is built (``service/tool_shapes.py``)."""

    type: Literal["additional_tools"]
    id: NotRequired[Id | None]
    role: NotRequired[Annotated[OrNull[Literal["developer"]], Field(default="developer")]]
    tools: list[JsonObject]


@with_config(_STRICT)
class ToolSearchCall(TypedDict):
    """A search of deferred tools; with ``execution: "client"`` the client runs it (Codex)."""

    type: Literal["tool_search_call"]
    id: NotRequired[Id | None]
    call_id: NotRequired[str | None]
    arguments: NotRequired[JsonValue]
    execution: NotRequired[Literal["server", "client"] | None]
    status: NotRequired[str | None]


@with_config(_STRICT)
class ToolSearchOutput(TypedDict):
    """The tools a tool search found: from here on they count as tools (``tool_shapes.py``)."""

    type: Literal["tool_search_output"]
    id: NotRequired[Id | None]
    call_id: NotRequired[str | None]
    tools: list[JsonObject]
    execution: NotRequired[Literal["server", "client"] | None]
    status: NotRequired[str | None]


@with_config(_STRICT)
class WebSearchCall(TypedDict):
    type: Literal["web_search_call"]
    id: Id
    status: NotRequired[str | None]
    action: NotRequired[JsonObject | None]


@with_config(_STRICT)
class Reasoning(TypedDict):
    type: Literal["reasoning"]
    id: NotRequired[Id | None]
    summary: NotRequired[Annotated[OrNull[list[SummaryText]], Field(default_factory=list)]]
    content: NotRequired[list[ReasoningText] | None]
    encrypted_content: NotRequired[str | None]
    status: NotRequired[str | None]


@with_config(_STRICT)
class ItemReference(TypedDict):
    type: NotRequired[Annotated[OrNull[Literal["item_reference"]], Field(default="item_reference")]]
    id: Id


class McpListedTool(_Item):
    name: str
    description: str | None = None
    input_schema: JsonObject | None = None
    annotations: JsonObject | None = None


@with_config(_STRICT)
class McpListToolsItem(TypedDict):
    type: Literal["mcp_list_tools"]
    id: NotRequired[Id | None]
    server_label: str
    tools: list[McpListedTool]
    error: NotRequired[str | None]


class McpErrorBlock(_Item):
    type: str
    text: str | None = None


class McpCallError(_Item):
    """OpenAI's structured ``mcp_call.error`` (the gateway writes a plain string itself)."""

    type: str
    message: str | None = None
    code: Annotated[int, Field(ge=-INT32_MAX, le=INT32_MAX)] | str | None = None
    content: list[McpErrorBlock] | None = None


@with_config(_STRICT)
class McpCallItem(TypedDict):
    type: Literal["mcp_call"]
    id: NotRequired[Id | None]
    server_label: str
    name: str
    arguments: str
    output: NotRequired[str | None]
    error: NotRequired[str | McpCallError | None]
    status: NotRequired[str | None]
    approval_request_id: NotRequired[str | None]


@with_config(_STRICT)
class McpApprovalRequestItem(TypedDict):
    type: Literal["mcp_approval_request"]
    id: Id
    server_label: str
    name: str
    arguments: str


@with_config(_STRICT)
class McpApprovalResponseItem(TypedDict):
    type: Literal["mcp_approval_response"]
    id: NotRequired[Id | None]
    approval_request_id: str
    approve: bool
    reason: NotRequired[str | None]


@with_config(_STRICT)
class CompactionItem(TypedDict):
    """A summary of everything before it, sealed by this gateway (``/v1/responses/compact``)."""

    type: Literal["compaction"]
    id: NotRequired[str | None]
    encrypted_content: str


@with_config(_STRICT)
class CompactionTriggerItem(TypedDict):
    """Compact the context now, as this response (must be the last input item)."""

    type: Literal["compaction_trigger"]
    id: NotRequired[str | None]


TAGS = frozenset(
    {
        "compaction",
        "compaction_trigger",
        "message",
        "function_call",
        "function_call_output",
        "reasoning",
        "item_reference",
        "mcp_list_tools",
        "mcp_call",
        "mcp_approval_request",
        "mcp_approval_response",
        "custom_tool_call",
        "custom_tool_call_output",
        "additional_tools",
        "tool_search_call",
        "tool_search_output",
        "web_search_call",
        "input_text",
        "input_image",
        "input_file",
        "output_text",
        "refusal",
        "summary_text",
        "reasoning_text",
    }
)
"""Discriminator values: they appear in validation error locations and are skipped there."""


def _item_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        kind = value.get("type")
        if kind is None:
            return "message" if "role" in value else "item_reference" if "id" in value else None
        return kind if isinstance(kind, str) else None
    return getattr(value, "type", None)


InputItem = Annotated[
    Annotated[Message, Tag("message")]
    | Annotated[FunctionCall, Tag("function_call")]
    | Annotated[FunctionCallOutput, Tag("function_call_output")]
    | Annotated[Reasoning, Tag("reasoning")]
    | Annotated[ItemReference, Tag("item_reference")]
    | Annotated[McpListToolsItem, Tag("mcp_list_tools")]
    | Annotated[McpCallItem, Tag("mcp_call")]
    | Annotated[McpApprovalRequestItem, Tag("mcp_approval_request")]
    | Annotated[McpApprovalResponseItem, Tag("mcp_approval_response")]
    | Annotated[CustomToolCall, Tag("custom_tool_call")]
    | Annotated[CustomToolCallOutput, Tag("custom_tool_call_output")]
    | Annotated[AdditionalTools, Tag("additional_tools")]
    | Annotated[ToolSearchCall, Tag("tool_search_call")]
    | Annotated[ToolSearchOutput, Tag("tool_search_output")]
    | Annotated[WebSearchCall, Tag("web_search_call")]
    | Annotated[CompactionItem, Tag("compaction")]
    | Annotated[CompactionTriggerItem, Tag("compaction_trigger")],
    Discriminator(
        # A typeless item with a role is a message: keyed by its role (``keyed.py``).
        keyed(_item_tag, [["type"], ["role"]], {role: "message" for role in get_args(Role)}),
        custom_error_type="invalid_item",
        custom_error_message="Unsupported or missing input item type",
    ),
]

# Where a validated item holds more than JSON values: content parts (dicts that may have null
# keys), or models (see SummaryText).
_NESTED = {
    "message": ("content",),
    "function_call_output": ("output",),
    "custom_tool_call_output": ("output",),
    "reasoning": ("summary", "content"),
    "mcp_list_tools": ("tools",),
    "mcp_call": ("error",),
}


def item_dict(item: Mapping[str, Any]) -> dict[str, Any]:
    """A validated item as the gateway keeps it: a new dict without the keys given as null
    (they mean what an absent key means), its content parts likewise, and the few nested
    models as dicts. Validating into dicts skips a model and its dump per item (callgrind,
    bench/codex_request.py's 100 items: 2.9 M → 1.85 M instructions to parse them and this)."""
    data = dict(item) if None not in item.values() else _without_nulls(item)
    for key in _NESTED.get(data["type"], ()):
        value = data.get(key)
        # type(), not isinstance(…, BaseModel): ABCMeta's check is a Python call.
        if type(value) is list:
            if value and type(value[0]) is dict:
                data[key] = [
                    part if None not in part.values() else _without_nulls(part) for part in value
                ]
            elif value:
                data[key] = [_dumped(part) for part in value]
        elif value is not None and type(value) is not str:
            data[key] = _dumped(value)
    return data


def _dumped(model: BaseModel) -> dict[str, Any]:
    dumped: dict[str, Any] = model.__pydantic_serializer__.to_python(model, exclude_none=True)
    return dumped


def _without_nulls(part: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in part.items() if value is not None}
