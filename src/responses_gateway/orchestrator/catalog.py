"""The tools one response offers the model: client-run tools (functions, namespaced and custom
tools) and gateway-run ones (MCP tools, the web search).

Names are made safe and unique for the upstream (OpenAI function names allow
``[A-Za-z0-9_-]{1,64}``; MCP allows dots and 128 characters; a namespace's tools are offered as
``namespace__tool``) and mapped back when the model calls. Plain functions keep their own names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from responses_gateway.chat.tool_items import (
    TOOL_SEARCH_KEY,
    WEB_SEARCH_KEY,
    WEB_SEARCH_NAME,
    client_key,
)
from responses_gateway.errors import InvalidRequest
from responses_gateway.mcp import McpServer
from responses_gateway.orchestrator.client_tools import ClientTool
from responses_gateway.schemas.request import (
    McpApprovalFilter,
    McpTool,
    McpToolFilter,
    ToolChoiceAllowed,
    ToolChoiceCustom,
    ToolChoiceFunction,
    ToolChoiceMcp,
)

WEB_SEARCH_TYPES = frozenset(
    {"web_search", "web_search_2025_08_26", "web_search_preview", "web_search_preview_2025_03_11"}
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
    functions: list[ClientTool]
    bindings: list[McpBinding]
    namespaces: dict[str, str | None] = field(default_factory=dict)  # name → description
    web_search: bool = False  # offer the gateway's own web search
    web_domains: tuple[str, ...] = ()  # its filters.allowed_domains (none: any)
    chat_tools: list[dict[str, Any]] = field(default_factory=list)
    server_tools: dict[str, tuple[McpBinding, str]] = field(default_factory=dict)
    chat_names: dict[tuple[str, str], str] = field(default_factory=dict)
    client_tools: dict[str, ClientTool] = field(default_factory=dict)  # by chat name
    web_search_name: str | None = None
    web_results: dict[str, str] = field(default_factory=dict)  # web_search_call id → output

    def binding(self, label: str) -> McpBinding | None:
        for binding in self.bindings:
            if binding.label == label:
                return binding
        return None

    def build(self) -> None:
        """Compute the upstream ``tools`` once every MCP listing is known."""
        self.chat_tools = []
        if not (self.functions or self.web_search or self.bindings):
            return  # no tools: the plain request's path (see reasoning_output's figure)
        # Plain functions keep the names the client knows them by; the rest fit around them.
        # The model sees the tools in the client's order.
        plain = [_is_plain(t) for t in self.functions]
        taken = {t.name for t, is_plain in zip(self.functions, plain, strict=True) if is_plain}
        for client, is_plain in zip(self.functions, plain, strict=True):
            name = client.name if is_plain else _unique_flat(_safe(_joined(client)), taken)
            self._offer(client, name, taken)
        if self.web_search:
            self.web_search_name = _unique_flat(WEB_SEARCH_NAME, taken)
            taken.add(self.web_search_name)
            self.chat_names[WEB_SEARCH_KEY] = self.web_search_name
            self.chat_tools.append(_web_search_tool(self.web_search_name))
        for binding in self.bindings:
            for tool in binding.tools or ():
                name = _unique(_safe(tool["name"]), binding.label, taken)
                taken.add(name)
                self.server_tools[name] = (binding, tool["name"])
                self.chat_names[(binding.label, tool["name"])] = name
                self.chat_tools.append(_mcp_tool(name, tool, binding))

    def _offer(self, tool: ClientTool, name: str, taken: set[str]) -> None:
        taken.add(name)
        self.client_tools[name] = tool
        namespace = tool.namespace
        if tool.search:
            self.chat_names[TOOL_SEARCH_KEY] = name
        elif namespace is not None or name != tool.name:
            self.chat_names[client_key(namespace, tool.name)] = name
        description = self.namespaces.get(namespace) if namespace else None
        self.chat_tools.append(tool.chat_tool(name, description))

    def is_server_tool(self, chat_name: str) -> bool:
        return chat_name in self.server_tools or chat_name == self.web_search_name

    def client_names(self, kind: str, name: str) -> list[str]:
        """Chat names of the client tools a ``tool_choice`` names: by own name, or by the flat
        name the model sees (a namespace's tools)."""
        custom = kind == "custom"
        found = [
            chat
            for chat, tool in self.client_tools.items()
            if tool.is_custom == custom and name in (tool.name, chat)
        ]
        plain = [c for c in found if self.client_tools[c].namespace is None]
        return plain or found


def _safe(name: str) -> str:
    return _UNSAFE.sub("_", name)[:64] or "tool"


def _unique(name: str, label: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    return _unique_flat(_safe(f"{label}__{name}"), taken)


def _unique_flat(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        suffix = f"_{n}"
        candidate, n = name[: 64 - len(suffix)] + suffix, n + 1
    return candidate


def _is_plain(tool: ClientTool) -> bool:
    return tool.namespace is None and not tool.is_custom and not tool.search


def _joined(tool: ClientTool) -> str:
    namespace = tool.namespace
    if namespace is None:
        return tool.name
    return f"{namespace}{'' if namespace.endswith('__') else '__'}{tool.name}"


def _web_search_tool(name: str) -> dict[str, Any]:
    query = {"type": "string", "description": "What to search the web for."}
    function = {
        "name": name,
        "description": "Search the web. Returns the top results' titles, URLs and snippets.",
        "parameters": {"type": "object", "properties": {"query": query}, "required": ["query"]},
    }
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
    if isinstance(choice, ToolChoiceFunction | ToolChoiceCustom):
        found = catalog.client_names(choice.type, choice.name)
        return _forced(tools, found[0] if found else choice.name)
    if choice.type in WEB_SEARCH_TYPES and catalog.web_search_name:
        return _forced(tools, catalog.web_search_name)
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
            if ref.type in ("function", "custom") and ref.name:
                names.update(catalog.client_names(ref.type, ref.name) or [ref.name])
            elif ref.type == "namespace" and ref.name:
                names |= {c for c, t in catalog.client_tools.items() if t.namespace == ref.name}
            elif ref.type in WEB_SEARCH_TYPES and catalog.web_search_name:
                names.add(catalog.web_search_name)
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
