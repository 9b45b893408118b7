"""Remote MCP tools, run server-side: egress policy, per-request sessions, tool calls.

Exported here is what every request uses (``calls.py``, ``policy.py``). The MCP SDK (``client.py``)
and the guarded HTTP client (``egress.py``: httpx2) are imported from their own modules, and only
by the code that runs when a request has an MCP tool: they cost 21 MB and 3 MB of RSS (measured).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from responses_gateway.mcp.calls import McpCallOutcome, McpListError, McpParams, McpServer
from responses_gateway.mcp.policy import EgressPolicy, McpUrlRefused

if TYPE_CHECKING:
    from responses_gateway.config import Settings
    from responses_gateway.mcp.client import McpSessions


def open_sessions(params: Settings | McpParams) -> McpSessions:
    """``McpSessions(params)``: the one place the serving path imports the MCP SDK (21 MB of RSS,
    measured), when the first request with an MCP tool opens its sessions."""
    from responses_gateway.mcp.client import McpSessions

    return McpSessions(params)


__all__ = [
    "EgressPolicy",
    "McpCallOutcome",
    "McpListError",
    "McpParams",
    "McpServer",
    "McpUrlRefused",
    "open_sessions",
]
