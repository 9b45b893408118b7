"""Input items of ``POST /v1/responses`` (OpenAI names; ``type`` optional on messages and references).

Items are validated here and then kept as plain dicts (``model_dump``): the orchestrator, the store and
the event encoder all work on the JSON shapes the API documents, so nothing is converted twice.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import Discriminator, Field, Tag

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


class InputText(_Item):
    type: Literal["input_text"]
    text: str


class InputImage(_Item):
    type: Literal["input_image"]
    image_url: str | None = None
    file_id: str | None = None
    detail: OrNull[Literal["low", "high", "auto", "original"]] = "auto"


class InputFile(_Item):
    type: Literal["input_file"]
    file_data: str | None = None
    file_id: str | None = None
    file_url: str | None = None
    filename: str | None = None


class OutputText(_Item):
    type: Literal["output_text"]
    text: str
    annotations: OrNull[list[JsonObject]] = Field(default_factory=list)


class Refusal(_Item):
    type: Literal["refusal"]
    refusal: str


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


class Message(_Item):
    type: OrNull[Literal["message"]] = "message"
    id: Id | None = None
    role: Role
    content: str | list[ContentPart]
    status: str | None = None
    phase: Literal["commentary", "final_answer"] | None = None


class FunctionCall(_Item):
    type: Literal["function_call"]
    id: Id | None = None
    call_id: str
    name: str
    arguments: str
    namespace: str | None = None
    status: str | None = None


ToolOutput = str | list[Annotated[InputText | InputImage | InputFile, Field(discriminator="type")]]


class FunctionCallOutput(_Item):
    type: Literal["function_call_output"]
    id: Id | None = None
    call_id: str
    output: ToolOutput
    status: str | None = None


class CustomToolCall(_Item):
    type: Literal["custom_tool_call"]
    id: Id | None = None
    call_id: str
    name: str
    input: str
    namespace: str | None = None
    status: str | None = None


class CustomToolCallOutput(_Item):
    type: Literal["custom_tool_call_output"]
    id: Id | None = None
    call_id: str
    output: ToolOutput


class AdditionalTools(_Item):
    """Tools declared inside the input (Codex, for models it knows); validated as ``tools`` are,
    where the catalog is built (``service/tool_shapes.py``)."""

    type: Literal["additional_tools"]
    id: Id | None = None
    role: OrNull[Literal["developer"]] = "developer"
    tools: list[JsonObject]


class ToolSearchCall(_Item):
    """A search of deferred tools; with ``execution: "client"`` the client runs it (Codex)."""

    type: Literal["tool_search_call"]
    id: Id | None = None
    call_id: str | None = None
    arguments: JsonValue = None
    execution: Literal["server", "client"] | None = None
    status: str | None = None


class ToolSearchOutput(_Item):
    """The tools a tool search found: from here on they count as tools (``tool_shapes.py``)."""

    type: Literal["tool_search_output"]
    id: Id | None = None
    call_id: str | None = None
    tools: list[JsonObject]
    execution: Literal["server", "client"] | None = None
    status: str | None = None


class WebSearchCall(_Item):
    type: Literal["web_search_call"]
    id: Id
    status: str | None = None
    action: JsonObject | None = None


class Reasoning(_Item):
    type: Literal["reasoning"]
    id: Id | None = None
    summary: OrNull[list[SummaryText]] = Field(default_factory=list)
    content: list[ReasoningText] | None = None
    encrypted_content: str | None = None
    status: str | None = None


class ItemReference(_Item):
    type: OrNull[Literal["item_reference"]] = "item_reference"
    id: Id


class McpListedTool(_Item):
    name: str
    description: str | None = None
    input_schema: JsonObject | None = None
    annotations: JsonObject | None = None


class McpListToolsItem(_Item):
    type: Literal["mcp_list_tools"]
    id: Id | None = None
    server_label: str
    tools: list[McpListedTool]
    error: str | None = None


class McpErrorBlock(_Item):
    type: str
    text: str | None = None


class McpCallError(_Item):
    """OpenAI's structured ``mcp_call.error`` (the gateway writes a plain string itself)."""

    type: str
    message: str | None = None
    code: Annotated[int, Field(ge=-INT32_MAX, le=INT32_MAX)] | str | None = None
    content: list[McpErrorBlock] | None = None


class McpCallItem(_Item):
    type: Literal["mcp_call"]
    id: Id | None = None
    server_label: str
    name: str
    arguments: str
    output: str | None = None
    error: str | McpCallError | None = None
    status: str | None = None
    approval_request_id: str | None = None


class McpApprovalRequestItem(_Item):
    type: Literal["mcp_approval_request"]
    id: Id
    server_label: str
    name: str
    arguments: str


class McpApprovalResponseItem(_Item):
    type: Literal["mcp_approval_response"]
    id: Id | None = None
    approval_request_id: str
    approve: bool
    reason: str | None = None


class CompactionItem(_Item):
    """A summary of everything before it, sealed by this gateway (``/v1/responses/compact``)."""

    type: Literal["compaction"]
    id: str | None = None
    encrypted_content: str


class CompactionTriggerItem(_Item):
    """Compact the context now, as this response (must be the last input item)."""

    type: Literal["compaction_trigger"]
    id: str | None = None


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
