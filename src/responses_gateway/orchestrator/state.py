"""``ResponseState``: the response being built, and the Response object it renders to.

The Response object carries every key of the reference's always-present set (Open Responses and the
SDK both read it), with request fields echoed and defaults filled in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from responses_gateway.events import EchoedTools
from responses_gateway.schemas.request import (
    CreateResponseRequest,
    FunctionTool,
    McpTool,
    TextFormatJsonSchema,
)

TERMINAL = frozenset({"completed", "incomplete", "failed", "cancelled"})


def redact_url(url: str | None) -> str | None:
    """Keep scheme and host, as OpenAI does: paths and queries often carry tokens."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    tail = "/<redacted>" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{host}{tail}"


def echo_tool(tool: FunctionTool | McpTool, label: str | None) -> dict[str, Any]:
    """A tool as echoed and stored: function tools with all keys, MCP tools without secrets."""
    if isinstance(tool, FunctionTool):
        return {
            "type": "function",
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
            "strict": tool.strict,
        }
    allowed = tool.allowed_tools
    approval = tool.require_approval
    return {
        "type": "mcp",  # Fireworks' "sse" too: the SDK knows only "mcp"
        "server_label": label,
        "server_url": redact_url(tool.server_url),
        "server_description": tool.server_description,
        "headers": None,
        "allowed_tools": allowed
        if isinstance(allowed, list) or allowed is None
        else allowed.model_dump(exclude_none=True),
        "require_approval": approval
        if isinstance(approval, str) or approval is None
        else approval.model_dump(exclude_none=True),
    }


def request_echo(request: CreateResponseRequest, tools: list[dict[str, Any]]) -> dict[str, Any]:
    """The request fields a Response object repeats, computed once per response."""
    choice = request.tool_choice
    text: dict[str, Any] = {"format": {"type": "text"}, "verbosity": "medium"}
    if request.text is not None:
        fmt = request.text.format
        echoed = fmt.model_dump(by_alias=True)
        if isinstance(fmt, TextFormatJsonSchema):
            echoed["strict"] = bool(fmt.strict)  # Open Responses wants every key, strict a bool
        text = {"format": echoed, "verbosity": request.text.verbosity or "medium"}
    reasoning = None
    if request.reasoning is not None:
        reasoning = {"effort": request.reasoning.effort, "summary": request.reasoning.summary}
    return {
        "instructions": request.instructions,
        "max_output_tokens": request.max_output_tokens,
        "max_tool_calls": request.max_tool_calls,
        "model": request.model,
        "parallel_tool_calls": request.parallel_tool_calls,
        "previous_response_id": request.previous_response_id,
        "reasoning": reasoning,
        "service_tier": "default",
        "store": request.store,
        "background": bool(request.background),
        "temperature": request.temperature if request.temperature is not None else 1.0,
        "text": text,
        "tool_choice": choice if isinstance(choice, str) else choice.model_dump(exclude_none=True),
        "tools": EchoedTools(tools),
        "top_p": request.top_p if request.top_p is not None else 1.0,
        "top_logprobs": request.top_logprobs or 0,
        "presence_penalty": 0.0,
        "frequency_penalty": 0.0,
        "truncation": request.truncation or "disabled",
        "user": request.user,
        "safety_identifier": request.safety_identifier,
        "prompt_cache_key": request.prompt_cache_key,
        "metadata": request.metadata or {},
    }


def _with_images(text: str, images: list[str]) -> list[dict[str, Any]]:
    parts = [{"type": "input_image", "image_url": url, "detail": "auto"} for url in images]
    return [{"type": "input_text", "text": text}, *parts]


@dataclass
class ResponseState:
    """Mutable while the response runs; ``snapshot()`` renders it at any moment."""

    id: str
    echo: dict[str, Any]
    created_at: int = field(default_factory=lambda: int(time.time()))
    status: str = "in_progress"
    output: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None
    incomplete_reason: str | None = None
    completed_at: int | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    usage_unknown: bool = False  # a model round reported no usage: the totals are not known
    mcp_calls_executed: int = 0
    failure: Exception | None = None  # the error behind status "failed", for non-streamed callers
    finished: set[int] = field(default_factory=set)  # output indexes whose item is done
    # Images MCP tools returned, by mcp_call id: shown to the model in this response only.
    tool_images: dict[str, list[str]] = field(default_factory=dict)

    def add_item(self, item: dict[str, Any]) -> int:
        self.output.append(item)
        return len(self.output) - 1

    def item_done(self, index: int) -> dict[str, Any]:
        """The ``output_item.done`` event, remembering the item as whole (see ``cancel``)."""
        self.finished.add(index)
        return {
            "type": "response.output_item.done",
            "output_index": index,
            "item": self.output[index],
        }

    def model_view(self) -> list[dict[str, Any]]:
        """The output as the model sees it next round: MCP calls with their images."""
        if not self.tool_images:
            return self.output
        return [
            {**item, "output": _with_images(item.get("output") or "", self.tool_images[item["id"]])}
            if item["type"] == "mcp_call" and item["id"] in self.tool_images
            else item
            for item in self.output
        ]

    def cancel(self) -> None:
        """The client went away mid-run: keep what was finished, drop what was half-built."""
        self.output = [item for index, item in enumerate(self.output) if index in self.finished]
        self.finished = set(range(len(self.output)))
        self.status = "cancelled"

    def add_usage(self, usage: dict[str, int] | None) -> None:
        if usage is None:
            self.usage_unknown = True
            return
        self.input_tokens += usage["input_tokens"]
        self.output_tokens += usage["output_tokens"]
        self.cached_tokens += usage["cached_tokens"]
        self.reasoning_tokens += usage["reasoning_tokens"]

    def finish(self, status: str) -> None:
        self.status = status
        if status == "completed":
            self.completed_at = int(time.time())

    def usage(self) -> dict[str, Any] | None:
        if self.status not in TERMINAL or self.usage_unknown:
            return None  # never a made-up 0: the Response's usage is optional
        return {
            "input_tokens": self.input_tokens,
            "input_tokens_details": {
                "cached_tokens": self.cached_tokens,
                "cache_write_tokens": 0,
            },
            "output_tokens": self.output_tokens,
            "output_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
            "total_tokens": self.input_tokens + self.output_tokens,
        }

    def snapshot(self) -> dict[str, Any]:
        response: dict[str, Any] = {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": self.status,
            "completed_at": self.completed_at,
            "error": self.error,
            "incomplete_details": {"reason": self.incomplete_reason}
            if self.incomplete_reason
            else None,
        }
        response.update(self.echo)
        response["output"] = [_shown(item) for item in self.output]
        response["usage"] = self.usage()
        return response


def _shown(item: dict[str, Any]) -> dict[str, Any]:
    """An output item as answered and stored: a compaction's opened summary stays in memory."""
    if item.get("type") != "compaction":
        return item
    return {key: value for key, value in item.items() if key != "summary"}
