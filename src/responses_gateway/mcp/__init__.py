"""Remote MCP tools, run server-side: egress policy, per-request sessions, tool calls."""

from responses_gateway.mcp.client import (
    McpCallOutcome,
    McpListError,
    McpParams,
    McpServer,
    McpSessions,
)
from responses_gateway.mcp.egress import (
    EgressPolicy,
    GuardedBackend,
    McpUrlRefused,
    build_http_client,
    vet_server_url,
)

__all__ = [
    "EgressPolicy",
    "GuardedBackend",
    "McpCallOutcome",
    "McpListError",
    "McpParams",
    "McpServer",
    "McpSessions",
    "McpUrlRefused",
    "build_http_client",
    "vet_server_url",
]
