"""Where the MCP client may connect (``GATEWAY_MCP_ALLOW_PRIVATE_NETWORKS``,
``GATEWAY_MCP_ALLOWED_HOSTS``), as data the request path carries on every request.

The checks that apply it run in ``egress.py``, beside the HTTP client they guard: that module
imports httpx2 and httpcore2, which only a request with an MCP tool (or a web search) needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from responses_gateway.config import Settings


@dataclass(frozen=True)
class EgressPolicy:
    """Where the MCP client may connect. The default refuses every non-public address."""

    allow_private_networks: bool = False
    allowed_hosts: tuple[str, ...] = ()  # exact, normalised hostnames; empty = any host

    @classmethod
    def from_settings(cls, settings: Settings) -> EgressPolicy:
        hosts = tuple(normalise_host(host) for host in settings.mcp_allowed_hosts if host.strip())
        return cls(settings.mcp_allow_private_networks, hosts)


class McpUrlRefused(Exception):
    """The MCP server URL may not be contacted; the message is safe to return to the caller."""

    def __init__(self, url: str) -> None:
        super().__init__(f"MCP server URL '{_redact_userinfo(url)}' is not allowed")
        self.url = url


def normalise_host(host: str) -> str:
    name = host.strip().lower().rstrip(".")
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    try:
        return name.encode("idna").decode("ascii") if not name.isascii() else name
    except UnicodeError:
        return name


def _redact_userinfo(url: str) -> str:
    """Keep a password given in the URL out of error messages and logs."""
    scheme, sep, rest = url.partition("://")
    authority, slash, tail = rest.partition("/")
    if sep and "@" in authority:
        return f"{scheme}://***@{authority.rsplit('@', 1)[1]}{slash}{tail}"
    return url
