"""The gateway's own web search (``GATEWAY_WEB_SEARCH_URL``): its results, as the orchestrator
sees them, and the configured backend (``searxng.py``).

The backend's HTTP client is imported only when a search URL is configured: it goes through the
MCP egress guard, which imports httpx2 and httpcore2 (3 MB of RSS, measured).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from responses_gateway.mcp.calls import truncate_utf8

if TYPE_CHECKING:
    from responses_gateway.config import Settings
    from responses_gateway.searxng import SearxngSearch


@dataclass(frozen=True, slots=True)
class SearchResult:
    url: str
    title: str
    content: str


class SearchFailed(Exception):
    """The search could not be run; the message is safe to show the model (no URL in it)."""


def render_results(query: str, results: list[SearchResult], max_bytes: int) -> str:
    """What the model reads as the search's output."""
    if not results:
        return f"No results for {query!r}."
    blocks = [
        f"{n}. {r.title}\n{r.url}\n{r.content}".rstrip() for n, r in enumerate(results, start=1)
    ]
    return truncate_utf8("\n\n".join(blocks), max_bytes)


def web_searcher(settings: Settings) -> SearxngSearch | None:
    """The configured search backend; it shares the MCP call's timeouts and output cap."""
    if not settings.web_search_url:
        return None
    from responses_gateway.searxng import SearxngSearch

    return SearxngSearch(
        settings.web_search_url,
        connect_timeout=settings.mcp_connect_timeout,
        timeout=settings.mcp_call_timeout,
        max_bytes=settings.mcp_max_output_bytes,
    )
