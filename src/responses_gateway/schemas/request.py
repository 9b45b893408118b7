"""``CreateResponseRequest``: the body of ``POST /v1/responses``.

Unknown fields are ignored (the SDK's ``extra_body`` reaches us); known fields we cannot honour are
refused by ``unsupported_fields`` so that nothing that changes meaning is silently dropped.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

from responses_gateway.schemas.base import (
    INT32_MAX,
    EncodedJsonObject,
    Id,
    JsonObject,
    ModelName,
    OrNull,
    StrictModel,
    json_safe,
)
from responses_gateway.schemas.items import InputItem
from responses_gateway.schemas.keyed import KeyedJson, keyed

HOSTED_TOOL_TYPES = frozenset(
    {
        "file_search",
        "web_search",
        "web_search_2025_08_26",
        "web_search_preview",
        "web_search_preview_2025_03_11",
        "computer",
        "computer_use_preview",
        "code_interpreter",
        "image_generation",
        "local_shell",
        "shell",
        "apply_patch",
        "programmatic_tool_calling",
        "python",
    }
)
"""Tools OpenAI runs itself: ``GATEWAY_HOSTED_TOOLS`` decides whether they are omitted or refused."""


_Model = StrictModel


class FunctionTool(_Model):
    type: Literal["function"]
    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str | None = None
    parameters: EncodedJsonObject | None = None
    strict: bool | None = None
    defer_loading: bool | None = None


class CustomToolFormat(_Model):
    """``text`` (free-form) or a ``grammar`` (Lark or a regex) the input must match."""

    type: Literal["text", "grammar"]
    syntax: Literal["lark", "regex"] | None = None
    definition: str | None = None


class CustomTool(_Model):
    """A freeform tool: its input is one string, not JSON arguments."""

    type: Literal["custom"]
    name: str = Field(min_length=1, max_length=128)
    description: str | None = None
    format: CustomToolFormat | None = None
    defer_loading: bool | None = None


class NamespaceTool(_Model):
    """A named group of function and custom tools (Codex sends its MCP servers' tools so)."""

    type: Literal["namespace"]
    name: str = Field(min_length=1, max_length=128)
    description: str | None = None
    tools: list[Annotated[FunctionTool | CustomTool, Field(discriminator="type")]]
    defer_loading: bool | None = None


class McpToolFilter(_Model):
    tool_names: list[str] | None = None
    read_only: bool | None = None


class McpApprovalFilter(_Model):
    always: McpToolFilter | None = None
    never: McpToolFilter | None = None


class McpTool(_Model):
    """A remote MCP server run by the gateway; ``sse`` is Fireworks' legacy-transport spelling."""

    type: Literal["mcp", "sse"]
    server_label: str | None = Field(default=None, min_length=1, max_length=128)
    server_url: str | None = None
    server_description: str | None = None
    headers: dict[str, str] | None = None
    authorization: str | None = None
    allowed_tools: list[str] | McpToolFilter | None = None
    require_approval: Literal["always", "never"] | McpApprovalFilter | None = None
    connector_id: str | None = None
    tunnel_id: str | None = None


class HostedTool(_Model):
    """Any other tool type (OpenAI's hosted tools, ``tool_search``): kept whole, for the echo."""

    model_config = ConfigDict(extra="allow")
    type: str

    @model_validator(mode="after")
    def _extras_encodable(self) -> HostedTool:
        json_safe(self.__pydantic_extra__)  # echoed whole: it must encode
        return self


# Tags are class names: validation errors name the param (``tools[0].name``) without them.
_TOOL_TAGS = {
    "function": "FunctionTool",
    "custom": "CustomTool",
    "namespace": "NamespaceTool",
    "mcp": "McpTool",
    "sse": "McpTool",
}


def _tool_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return _TOOL_TAGS.get(kind, "HostedTool") if isinstance(kind, str) else "HostedTool"


# Keyed by type (``keyed.py``): the known ones; any other is a HostedTool too, found by _tool_tag.
_KEYED_TOOL_TAGS = _TOOL_TAGS | {kind: "HostedTool" for kind in (*HOSTED_TOOL_TYPES, "tool_search")}

Tool = Annotated[
    Annotated[FunctionTool, Tag("FunctionTool")]
    | Annotated[CustomTool, Tag("CustomTool")]
    | Annotated[NamespaceTool, Tag("NamespaceTool")]
    | Annotated[McpTool, Tag("McpTool")]
    | Annotated[HostedTool, Tag("HostedTool")],
    Discriminator(keyed(_tool_tag, "type", _KEYED_TOOL_TAGS)),
]


class ToolChoiceFunction(_Model):
    type: Literal["function"]
    name: str


class ToolChoiceCustom(_Model):
    type: Literal["custom"]
    name: str


class ToolChoiceMcp(_Model):
    type: Literal["mcp"]
    server_label: str
    name: str | None = None


class AllowedToolRef(_Model):
    type: str
    name: str | None = None
    server_label: str | None = None


class ToolChoiceAllowed(_Model):
    type: Literal["allowed_tools"]
    mode: Literal["auto", "required"]
    tools: list[AllowedToolRef]


class ToolChoiceOther(_Model):
    type: str


ToolChoice = Annotated[
    Literal["none", "auto", "required"]
    | ToolChoiceFunction
    | ToolChoiceCustom
    | ToolChoiceMcp
    | ToolChoiceAllowed
    | ToolChoiceOther,
    Field(union_mode="left_to_right"),
]


class TextFormatText(_Model):
    type: Literal["text"]


class TextFormatJsonObject(_Model):
    type: Literal["json_object"]


class TextFormatJsonSchema(_Model):
    type: Literal["json_schema"]
    name: str = Field(min_length=1, max_length=64)
    schema_: JsonObject = Field(alias="schema")
    description: str | None = None
    strict: bool | None = None

    model_config = ConfigDict(extra="ignore", strict=True, populate_by_name=True)


class TextConfig(_Model):
    format: OrNull[
        Annotated[
            TextFormatText | TextFormatJsonObject | TextFormatJsonSchema,
            Field(discriminator="type"),
        ]
    ] = Field(default_factory=lambda: TextFormatText(type="text"))
    verbosity: Literal["low", "medium", "high"] | None = None


class ReasoningConfig(_Model):
    effort: Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"] | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None


class CreateResponseRequest(KeyedJson, _Model):
    model: ModelName
    input: str | list[InputItem]
    instructions: str | None = None
    previous_response_id: Id | None = None
    store: OrNull[bool] = True
    stream: OrNull[bool] = False
    tools: OrNull[list[Tool]] = Field(default_factory=list)
    tool_choice: OrNull[ToolChoice] = "auto"
    parallel_tool_calls: OrNull[bool] = True
    max_tool_calls: int | None = Field(default=None, ge=1, le=INT32_MAX)
    temperature: float | None = Field(default=None, ge=0, le=2, allow_inf_nan=False)
    top_p: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    max_output_tokens: int | None = Field(default=None, ge=1, le=INT32_MAX)
    text: TextConfig | None = None
    reasoning: ReasoningConfig | None = None
    metadata: dict[str, str] | None = None
    user: str | None = None
    safety_identifier: str | None = Field(default=None, max_length=128)
    prompt_cache_key: str | None = None
    service_tier: str | None = None
    truncation: Literal["auto", "disabled"] | None = None
    include: OrNull[list[str]] = Field(default_factory=list)
    background: bool | None = None
    generate: bool | None = None  # WebSocket mode only (a warm-up); refused over HTTP
    conversation: Any = None
    prompt: Any = None
    context_management: Any = None

    @field_validator("metadata")
    @classmethod
    def _metadata_limits(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return check_metadata(value)


def check_metadata(value: dict[str, str] | None) -> dict[str, str] | None:
    """OpenAI's limits on ``metadata`` (responses and conversations)."""
    if value is None:
        return value
    if len(value) > 16:
        raise ValueError("metadata can hold at most 16 key-value pairs")
    for key, item in value.items():
        if len(key) > 64:
            raise ValueError(f"metadata key '{key[:64]}…' is longer than 64 characters")
        if len(item) > 512:
            raise ValueError(f"metadata value for '{key}' is longer than 512 characters")
    return value
