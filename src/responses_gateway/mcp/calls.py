"""What a request's MCP tools name and what their calls come back as, without the MCP SDK.

The orchestrator and the request path use these on every request; the SDK itself (``client.py``,
21 MB of RSS with the ``mcp`` and ``mcp_types`` packages, measured) is imported only when a
request has an MCP tool.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Literal

from responses_gateway.mcp.policy import EgressPolicy

if TYPE_CHECKING:
    from responses_gateway.config import Settings

Transport = Literal["auto", "sse"]
ServerKey = tuple[str, str, tuple[tuple[str, str], ...]]

CALL_GRACE = 5.0  # slack over the SDK's own per-call timeout before we give up ourselves
_MIN_BODY_CAP = 4 * 1024 * 1024
_TRUNCATED = "\n…[output truncated by responses-gateway: {} bytes omitted]"


@dataclass(frozen=True)
class McpServer:
    """One MCP server as the request names it; ``headers`` already include ``Authorization``."""

    label: str
    url: str
    transport: Transport = "auto"
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> ServerKey:
        """Servers with equal keys share one session within a request."""
        return (self.url, self.transport, self.headers)


@dataclass(frozen=True)
class McpParams:
    """The MCP knobs of ``Settings``, separable so tests and callers can pass their own."""

    policy: EgressPolicy
    call_timeout: float = 60.0
    connect_timeout: float = 10.0
    list_timeout: float = 30.0
    max_output_bytes: int = 1024 * 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> McpParams:
        return cls(
            policy=EgressPolicy.from_settings(settings),
            call_timeout=settings.mcp_call_timeout,
            connect_timeout=settings.mcp_connect_timeout,
            list_timeout=settings.mcp_list_timeout,
            max_output_bytes=settings.mcp_max_output_bytes,
        )

    @property
    def read_timeout(self) -> float:
        """HTTP read timeout: a POST answered by SSE may stay silent for a whole call."""
        return max(self.call_timeout, self.list_timeout) + CALL_GRACE

    @property
    def max_body_bytes(self) -> int:
        return max(_MIN_BODY_CAP, 4 * self.max_output_bytes)


class McpListError(Exception):
    """Listing tools failed; the message is safe to show to the API caller."""

    def __init__(self, server_label: str, reason: str) -> None:
        super().__init__(f"Error retrieving tool list from MCP server: '{server_label}'. {reason}")
        self.server_label = server_label
        self.reason = reason


@dataclass
class McpCallOutcome:
    """What an ``mcp_call`` item carries: ``output`` on success, else an OpenAI-shaped ``error``;
    ``images`` (data URLs) are for the model only, since ``mcp_call.output`` is a string."""

    output: str | None
    error: dict[str, Any] | None
    images: list[str] = field(default_factory=list)

    @classmethod
    def protocol_error(cls, code: int, message: str) -> McpCallOutcome:
        return cls(None, {"type": "mcp_protocol_error", "code": code, "message": message})

    @classmethod
    def http_error(cls, status: int) -> McpCallOutcome:
        return cls(None, {"type": "http_error", "code": status, "message": status_text(status)})


def truncate_utf8(text: str, max_bytes: int) -> str:
    """Cut ``text`` to at most ``max_bytes`` UTF-8 bytes (never mid-character) plus a marker."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    kept = data[:max_bytes].decode("utf-8", errors="ignore")
    omitted = len(data) - len(kept.encode("utf-8"))
    return kept + _TRUNCATED.format(omitted)


def status_text(status: int) -> str:
    try:
        return f"{status} ({HTTPStatus(status).phrase})"
    except ValueError:
        return str(status)
