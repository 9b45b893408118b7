"""The request's tools → a ``ToolCatalog``: refusals, MCP bindings, listings reused from context.

Everything here can fail with a 400 before the first event: hosted tools refused by policy, a
``tool_choice`` naming what is not offered, MCP URLs the egress policy refuses (the message never
says what a name resolved to), bad headers.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from responses_gateway.errors import InvalidRequest
from responses_gateway.mcp import EgressPolicy, McpServer, McpUrlRefused
from responses_gateway.orchestrator.catalog import WEB_SEARCH_TYPES, McpBinding, ToolCatalog
from responses_gateway.orchestrator.mcp_steps import PlannedCall
from responses_gateway.orchestrator.state import echo_tool
from responses_gateway.schemas.request import (
    CreateResponseRequest,
    FunctionTool,
    McpTool,
    ToolChoiceCustom,
    ToolChoiceFunction,
    ToolChoiceOther,
)
from responses_gateway.service.history import History
from responses_gateway.service.tool_shapes import (
    HostedToolPolicy,
    RequestTools,
    echo_shape,
    has_tool_items,
    request_tools,
)

# Headers a caller may not set: they belong to HTTP or to the MCP transport itself.
_RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "upgrade",
        "te",
        "trailer",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "mcp-session-id",
        "mcp-protocol-version",
        "accept",
        "content-type",
        "cookie",
    }
)
_MAX_HEADERS = 32


def _label(tool: McpTool, where: str) -> str:
    if tool.server_label:
        return tool.server_label
    host = urlsplit(tool.server_url or "").hostname
    if not host:
        raise InvalidRequest("MCP tools need a server_url.", param=f"{where}.server_url")
    return host


def _headers(tool: McpTool, where: str) -> tuple[tuple[str, str], ...]:
    headers = dict(tool.headers or {})
    param = f"{where}.headers"
    if len(headers) > _MAX_HEADERS:
        raise InvalidRequest(f"At most {_MAX_HEADERS} MCP headers are allowed.", param=param)
    for name, value in headers.items():
        if name.lower() in _RESERVED_HEADERS or not name.isascii() or not name:
            raise InvalidRequest(f"The MCP header '{name}' cannot be set.", param=param)
        if any(ch in value for ch in "\r\n\0") or any(ch in name for ch in "\r\n\0: "):
            raise InvalidRequest(f"The MCP header '{name}' has invalid characters.", param=param)
    if tool.authorization is not None:
        if any(name.lower() == "authorization" for name in headers):
            raise InvalidRequest(
                "Give the MCP token either as authorization or as an Authorization header, "
                "not both.",
                param=f"{where}.authorization",
            )
        headers["Authorization"] = f"Bearer {tool.authorization}"
    return tuple(sorted(headers.items()))


def _refuse_choice(request: CreateResponseRequest, found: RequestTools) -> None:
    """A ``tool_choice`` must name a tool that is offered: forcing one that is not (or a
    hosted tool that is omitted) would change what the request means."""
    choice = request.tool_choice
    if (
        choice == "required"
        and found.omitted
        and not (found.client or found.mcp or found.web_search)
    ):
        raise InvalidRequest(
            "tool_choice 'required' needs a tool, and every tool given is a hosted tool this "
            "gateway cannot run (they are omitted).",
            param="tool_choice",
        )
    if isinstance(choice, ToolChoiceFunction | ToolChoiceCustom):
        custom = choice.type == "custom"
        if not any(t.is_custom == custom and t.name == choice.name for t in found.client):
            kind = "custom tool" if custom else "function"
            raise InvalidRequest(
                f"tool_choice names {kind} '{choice.name}', which is not in tools.",
                param="tool_choice",
            )
    elif type(choice) is ToolChoiceOther:
        if choice.type in WEB_SEARCH_TYPES and found.web_search:
            return
        why = " (it is omitted: this gateway cannot run it)" if choice.type in found.omitted else ""
        raise InvalidRequest(
            f"tool_choice of type '{choice.type}' is not supported by this gateway{why}.",
            param="tool_choice",
        )


async def build_catalog(
    request: CreateResponseRequest,
    history: History,
    items: list[dict[str, Any]],
    policy: EgressPolicy,
    default_approval: str,
    hosted: HostedToolPolicy,
) -> tuple[ToolCatalog, list[dict[str, Any]]]:
    """The catalog and the tools as echoed (secrets redacted). ``items`` is this turn's input
    (its ``additional_tools`` count as tools), ``history`` what the turn continues."""
    plain_context = not history.tool_items and not has_tool_items(items)
    if not request.tools and isinstance(request.tool_choice, str) and plain_context:
        # Nothing to offer and a choice that names nothing: the plain request's path. Measured
        # with the lifecycle snapshot ``Orchestrator.run`` skips for ``discard``: 42,000 fewer
        # instructions a request together (callgrind, in-process ``create`` 404,000 → 362,000).
        return ToolCatalog([], []), []
    found = request_tools(request.tools, history.items, items, hosted)
    _refuse_choice(request, found)
    bindings: list[McpBinding] = []
    labels: dict[int, str] = {}
    listings = _listings([*history.items, *items]) if found.mcp else {}
    for param, tool in found.mcp:
        binding = await _bind(tool, param, bindings, policy, default_approval)
        binding.tools = listings.get(binding.label)
        bindings.append(binding)
        labels[id(tool)] = binding.label
    echoed = [
        echo_tool(tool, labels.get(id(tool)))
        if isinstance(tool, (FunctionTool, McpTool))
        else echo_shape(tool)
        for tool in request.tools
    ]
    catalog = ToolCatalog(
        found.client, bindings, found.namespaces, found.web_search, found.web_domains
    )
    return catalog, echoed


def _listings(context: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The context's MCP listings by server label (the last one of each)."""
    return {
        item["server_label"]: item["tools"]
        for item in context
        if item.get("type") == "mcp_list_tools" and not item.get("error")
    }


async def _bind(
    tool: McpTool,
    param: str,
    bindings: list[McpBinding],
    policy: EgressPolicy,
    default_approval: str,
) -> McpBinding:
    if tool.connector_id or tool.tunnel_id:
        raise InvalidRequest(
            "OpenAI connectors and tunnels are not available here; give a server_url.",
            param=param,
        )
    label = _label(tool, param)
    if any(binding.label == label for binding in bindings):
        raise InvalidRequest(f"Two MCP tools share the server_label '{label}'.", param=param)
    if not tool.server_url:
        raise InvalidRequest("MCP tools need a server_url.", param=f"{param}.server_url")
    # Here, not at the top: egress.py imports httpx2 and httpcore2 (3 MB of RSS, measured).
    from responses_gateway.mcp.egress import vet_server_url

    try:
        await vet_server_url(tool.server_url, policy)
    except McpUrlRefused as exc:
        raise InvalidRequest(
            str(exc), param=f"{param}.server_url", code="mcp_url_refused"
        ) from None
    server = McpServer(
        label=label,
        url=tool.server_url,
        transport="sse" if tool.type == "sse" else "auto",
        headers=_headers(tool, param),
    )
    return McpBinding(label, server, tool, default_approval)


def approved_calls(
    catalog: ToolCatalog, history: History, new_items: list[dict[str, Any]]
) -> list[PlannedCall]:
    """The calls this turn's ``mcp_approval_response`` items approve, ready to run."""
    if not any(item["type"] == "mcp_approval_response" for item in new_items):
        return []  # the context is not searched (a Codex-sized one holds hundreds of items)
    context = [*history.items, *new_items]
    requests = {item["id"]: item for item in context if item.get("type") == "mcp_approval_request"}
    executed = {
        item.get("approval_request_id") for item in context if item.get("type") == "mcp_call"
    }
    planned: list[PlannedCall] = []
    for position, item in enumerate(new_items):
        if item["type"] != "mcp_approval_response" or not item["approve"]:
            continue
        request = requests[item["approval_request_id"]]
        if request["id"] in executed or any(
            call.approval_request_id == request["id"] for call in planned
        ):
            raise InvalidRequest(
                f"The MCP approval request {request['id']} was already approved and run.",
                param=f"input[{position}]",
            )
        binding = catalog.binding(request["server_label"])
        if binding is None:
            raise InvalidRequest(
                f"The approved call is for MCP server '{request['server_label']}', which is not in "
                "tools: send the tools again with each request.",
                param=f"input[{position}]",
            )
        planned.append(
            PlannedCall(
                binding, request["name"], request["arguments"], approval_request_id=request["id"]
            )
        )
    return planned
