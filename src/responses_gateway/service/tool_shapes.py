"""The request's tool shapes → what the catalog offers: tools from ``tools`` and from
``additional_tools`` / ``tool_search_output`` items alike, namespaces opened up, deferred tools
offered directly (a server-run ``tool_search`` is not offered; a client-run one is, as a
function), hosted tools omitted or refused (``GATEWAY_HOSTED_TOOLS``), the web search kept when
the gateway runs one (``GATEWAY_WEB_SEARCH_URL``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError

from responses_gateway.chat.tool_items import TOOL_SEARCH_NAME
from responses_gateway.errors import InvalidRequest
from responses_gateway.orchestrator.catalog import WEB_SEARCH_TYPES
from responses_gateway.orchestrator.client_tools import ClientTool
from responses_gateway.schemas.request import (
    HOSTED_TOOL_TYPES,
    CustomTool,
    FunctionTool,
    HostedTool,
    McpTool,
    NamespaceTool,
    Tool,
)

log = logging.getLogger("responses_gateway")
_TOOLS = TypeAdapter(list[Tool])
_TOOL_ITEMS = frozenset({"additional_tools", "tool_search_output"})  # input items with tools
_DEFAULT_SEARCH_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {"query": {"type": "string"}},
    "required": ["query"],
}
_omitted_logged: set[str] = set()


@dataclass(frozen=True)
class HostedToolPolicy:
    """``omit``: hosted tools are left out of what the model sees (and echoed); ``reject``: 400."""

    mode: Literal["omit", "reject"] = "omit"
    web_search: bool = False  # the gateway runs web_search itself


DEFAULT_HOSTED_POLICY = HostedToolPolicy()


@dataclass
class RequestTools:
    client: list[ClientTool] = field(default_factory=list)
    namespaces: dict[str, str | None] = field(default_factory=dict)
    mcp: list[tuple[str, McpTool]] = field(default_factory=list)  # (param, tool)
    web_search: bool = False
    web_domains: tuple[str, ...] = ()
    omitted: set[str] = field(default_factory=set)  # hosted tool types left out


def request_tools(
    request_tools: list[Any],
    history: list[dict[str, Any]],
    items: list[dict[str, Any]],
    policy: HostedToolPolicy,
) -> RequestTools:
    """Every tool of ``tools`` and of the context's ``additional_tools`` and ``tool_search_output``
    items (earlier turns' and this turn's), sorted by who runs it. The same client tool given
    twice is offered once."""
    found = RequestTools()
    seen: set[tuple[bool, bool, str | None, str]] = set()

    def add(
        spec: FunctionTool | CustomTool, namespace: str | None = None, search: bool = False
    ) -> None:
        key = (type(spec) is CustomTool, search, namespace, spec.name)
        if key not in seen:
            seen.add(key)
            found.client.append(ClientTool(spec, namespace, search))

    # Params are spelled out only where they are used (an MCP tool, an error): a Codex-sized
    # request has 40 tools and 100 items (callgrind: 774,000 → 484,000 instructions a request).
    # type(), not isinstance(): the models' metaclass is an ABCMeta, whose check of a model
    # that is not the class is a Python call (callgrind: ~1,000 instructions each, ~200 checks
    # for a Codex-sized request's tools). No tool model is subclassed.
    for where, index, tool in _sources(request_tools, history, items):
        kind = type(tool)
        if kind is FunctionTool or kind is CustomTool:
            add(tool)
        elif kind is NamespaceTool:
            found.namespaces.setdefault(tool.name, tool.description)
            for inner in tool.tools:
                add(inner, tool.name)
        elif kind is McpTool:
            found.mcp.append((f"{where}[{index}]", tool))
        elif tool.type == "tool_search":
            if (tool.model_extra or {}).get("execution") == "client":
                add(_client_search(tool), search=True)
        else:
            _hosted(tool, f"{where}[{index}]", policy, found)
    return found


def _client_search(tool: HostedTool) -> FunctionTool:
    """Codex's ``tool_search`` runs on the client: the model calls it like a function and the
    client answers with a ``tool_search_output`` whose tools are offered from then on."""
    extra = tool.model_extra or {}
    description, parameters = extra.get("description"), extra.get("parameters")
    return FunctionTool(
        type="function",
        name=TOOL_SEARCH_NAME,
        description=description if isinstance(description, str) else None,
        parameters=parameters if isinstance(parameters, dict) else _DEFAULT_SEARCH_PARAMETERS,
    )


def _sources(
    request_tools: list[Any], history: list[dict[str, Any]], items: list[dict[str, Any]]
) -> Iterator[tuple[str, int, Any]]:
    """(where, index, tool): the tool is ``{where}[{index}]``."""
    for index, tool in enumerate(request_tools):
        yield "tools", index, tool
    for where, item in _tool_items(history, items):
        param = f"{where}.tools"
        try:
            tools = _TOOLS.validate_python(item["tools"])
        except ValidationError as exc:
            error = exc.errors()[0]
            path = "".join(
                f"[{part}]" if isinstance(part, int) else f".{part}"
                for part in error["loc"]
                if not (isinstance(part, str) and part[:1].isupper())
            )
            raise InvalidRequest(
                f"Invalid value for '{param}{path}': {error['msg']}.",
                param=param + path,
                code="invalid_value",
            ) from None
        for index, tool in enumerate(tools):
            yield param, index, tool


def has_tool_items(context: list[dict[str, Any]]) -> bool:
    """Whether any item of the context carries tools (``additional_tools``, ``tool_search_output``)."""
    return any(item.get("type") in _TOOL_ITEMS for item in context)


def _tool_items(
    history: list[dict[str, Any]], items: list[dict[str, Any]]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The context's items that carry tools, with where they are."""
    for item in history:
        if item.get("type") in _TOOL_ITEMS:
            yield f"previous_response_id (item {item.get('id')})", item
    for position, item in enumerate(items):
        if item.get("type") in _TOOL_ITEMS:
            yield f"input[{position}]", item


def _hosted(tool: HostedTool, param: str, policy: HostedToolPolicy, found: RequestTools) -> None:
    kind = tool.type
    if kind in WEB_SEARCH_TYPES and policy.web_search:
        found.web_search = True
        found.web_domains += _allowed_domains(tool, param)
        return
    if kind not in HOSTED_TOOL_TYPES or policy.mode == "reject":
        raise InvalidRequest(
            f"Tools of type '{kind}' are not supported by this gateway: it runs function, "
            "custom and namespace tools (on the client) and MCP tools (type 'mcp' or 'sse').",
            param=f"{param}.type",
            code="unsupported_tool_type",
        )
    found.omitted.add(kind)
    if kind not in _omitted_logged:
        _omitted_logged.add(kind)
        log.warning(
            "hosted tools of type '%s' are not offered to the model: this gateway cannot run "
            "them (GATEWAY_HOSTED_TOOLS=omit)",
            kind,
        )


def _allowed_domains(tool: HostedTool, param: str) -> tuple[str, ...]:
    """``filters.allowed_domains``: it narrows the results, so it is honoured (or refused)."""
    filters = (tool.model_extra or {}).get("filters")
    domains = filters.get("allowed_domains") if isinstance(filters, dict) else None
    if domains is None:
        return ()
    if not isinstance(domains, list) or not all(isinstance(d, str) and d for d in domains):
        raise InvalidRequest(
            "filters.allowed_domains must be a list of domain names.",
            param=f"{param}.filters.allowed_domains",
        )
    return tuple(d.strip().lower().rstrip(".") for d in domains)


def echo_shape(tool: CustomTool | NamespaceTool | HostedTool) -> dict[str, Any]:
    """A non-function, non-MCP tool as echoed in the Response's ``tools``: as it was sent."""
    return tool.model_dump(exclude_none=True, by_alias=True)
