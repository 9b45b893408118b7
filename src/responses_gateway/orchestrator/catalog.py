"""The tools one response offers the model: client-run functions and gateway-run MCP tools.

MCP tool names are made safe and unique for the upstream (OpenAI function names allow
``[A-Za-z0-9_-]{1,64}``; MCP allows dots and 128 characters) and mapped back when the model calls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from responses_gateway.errors import InvalidRequest
from responses_gateway.mcp import McpServer
from responses_gateway.schemas.request import (
    FunctionTool,
    McpApprovalFilter,
    McpTool,
    McpToolFilter,
    ToolChoiceAllowed,
    ToolChoiceFunction,
    ToolChoiceMcp,
)

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass
class McpBinding:
    """One MCP server of the request, with its listing once known."""

    label: str
    server: McpServer
    spec: McpTool
    default_approval: str
    tools: list[dict[str, Any]] | None = None  # the filtered listing (an mcp_list_tools "tools")

    def allows(self, tool: dict[str, Any]) -> bool:
        allowed = self.spec.allowed_tools
        if allowed is None:
            return True
        if isinstance(allowed, list):
            return tool["name"] in allowed
        return _matches(allowed, tool)

    def needs_relisting(self) -> bool:
        """A reused listing was filtered by an older allowlist: relist if a name is missing."""
        allowed = self.spec.allowed_tools
        names = allowed if isinstance(allowed, list) else allowed.tool_names if allowed else None
        if not names or self.tools is None:
            return False
        listed = {tool["name"] for tool in self.tools}
        return any(name not in listed for name in names)

    def needs_approval(self, tool_name: str) -> bool:
        policy = self.spec.require_approval
        if policy is None:
            return self.default_approval == "always"
        if isinstance(policy, str):
            return policy == "always"
        return _approval_by_filter(policy, self._tool(tool_name))

    def _tool(self, name: str) -> dict[str, Any]:
        for tool in self.tools or ():
            if tool["name"] == name:
                return tool
        return {"name": name}


def _read_only(tool: dict[str, Any]) -> bool:
    annotations = tool.get("annotations") or {}
    return bool(annotations.get("read_only"))


def _matches(spec: McpToolFilter, tool: dict[str, Any]) -> bool:
    if spec.tool_names is not None and tool["name"] not in spec.tool_names:
        return False
    return spec.read_only is None or spec.read_only == _read_only(tool)


def _approval_by_filter(policy: McpApprovalFilter, tool: dict[str, Any]) -> bool:
    if policy.never is not None and _matches(policy.never, tool):
        return False
    if policy.always is not None and _matches(policy.always, tool):
        return True
    return True  # OpenAI's default is "always": what no filter names needs approval


@dataclass
class ToolCatalog:
    functions: list[FunctionTool]
    bindings: list[McpBinding]
    chat_tools: list[dict[str, Any]] = field(default_factory=list)
    server_tools: dict[str, tuple[McpBinding, str]] = field(default_factory=dict)
    chat_names: dict[tuple[str, str], str] = field(default_factory=dict)

    def binding(self, label: str) -> McpBinding | None:
        for binding in self.bindings:
            if binding.label == label:
                return binding
        return None

    def build(self) -> None:
        """Compute the upstream ``tools`` once every MCP listing is known."""
        self.chat_tools = [_function_tool(tool) for tool in self.functions]
        taken = {tool.name for tool in self.functions}
        for binding in self.bindings:
            for tool in binding.tools or ():
                name = _unique(_safe(tool["name"]), binding.label, taken)
                taken.add(name)
                self.server_tools[name] = (binding, tool["name"])
                self.chat_names[(binding.label, tool["name"])] = name
                self.chat_tools.append(_mcp_tool(name, tool, binding))

    def is_server_tool(self, chat_name: str) -> bool:
        return chat_name in self.server_tools


def _safe(name: str) -> str:
    return _UNSAFE.sub("_", name)[:64] or "tool"


def _unique(name: str, label: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    prefixed = _safe(f"{label}__{name}")
    candidate, n = prefixed, 2
    while candidate in taken:
        suffix = f"_{n}"
        candidate, n = prefixed[: 64 - len(suffix)] + suffix, n + 1
    return candidate


def _function_tool(tool: FunctionTool) -> dict[str, Any]:
    function: dict[str, Any] = {
        "name": tool.name,
        "parameters": tool.parameters or {"type": "object", "properties": {}},
    }
    if tool.description is not None:
        function["description"] = tool.description
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def _mcp_tool(name: str, tool: dict[str, Any], binding: McpBinding) -> dict[str, Any]:
    description = tool.get("description") or ""
    if binding.spec.server_description:
        description = (
            f"{description}\n(MCP server {binding.label}: {binding.spec.server_description})"
        )
    function: dict[str, Any] = {
        "name": name,
        "parameters": tool.get("input_schema") or {"type": "object", "properties": {}},
    }
    if description:
        function["description"] = description.strip()
    return {"type": "function", "function": function}


def _forced(tools: list[dict[str, Any]], name: str) -> tuple[str, list[dict[str, Any]]]:
    """One named tool, as every backend honours it: ``required`` with only that tool offered
    (llama-server refuses the object form, "type must be string", and others ignore it)."""
    return "required", [t for t in tools if t["function"]["name"] == name]


def chat_tool_choice(
    catalog: ToolCatalog, choice: Any
) -> tuple[str | dict[str, Any], list[dict[str, Any]]]:
    """Map a Responses ``tool_choice`` onto chat's, narrowing ``tools`` where the choice does."""
    tools = catalog.chat_tools
    if isinstance(choice, str):
        return choice, tools
    if isinstance(choice, ToolChoiceFunction):
        return _forced(tools, choice.name)
    if isinstance(choice, ToolChoiceMcp):
        binding = catalog.binding(choice.server_label)
        if binding is None:
            raise InvalidRequest(
                f"tool_choice names MCP server '{choice.server_label}', which is not in tools.",
                param="tool_choice",
            )
        if choice.name is not None:
            name = catalog.chat_names.get((binding.label, choice.name))
            if name is None:
                raise InvalidRequest(
                    f"MCP server '{binding.label}' offers no tool '{choice.name}'.",
                    param="tool_choice",
                )
            return _forced(tools, name)
        offered = {n for (label, _), n in catalog.chat_names.items() if label == binding.label}
        return "required", [t for t in tools if t["function"]["name"] in offered]
    if isinstance(choice, ToolChoiceAllowed):
        names: set[str] = set()
        for ref in choice.tools:
            if ref.type == "function" and ref.name:
                names.add(ref.name)
            elif ref.type == "mcp" and ref.server_label:
                names |= {
                    n
                    for (label, tool), n in catalog.chat_names.items()
                    if label == ref.server_label and (ref.name is None or ref.name == tool)
                }
        return choice.mode, [t for t in tools if t["function"]["name"] in names]
    raise InvalidRequest(
        f"tool_choice of type '{choice.type}' is not supported by this gateway.",
        param="tool_choice",
    )
