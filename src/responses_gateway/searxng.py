"""A SearXNG-compatible JSON search endpoint, the backend of the gateway's web search.

``GET {url}?q=…&format=json`` → ``{"results": [{"url", "title", "content"}, …]}``. The URL is the
operator's, not a caller's, so private addresses are allowed (a SearXNG beside the gateway is the
usual set-up); the connection still goes through the MCP egress guard with that one host allowed:
no other host, no redirects, no proxies from the environment, a capped body.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx2
import orjson

from responses_gateway.mcp import EgressPolicy
from responses_gateway.mcp.egress import BodyTooLarge, build_http_client
from responses_gateway.web_search import SearchFailed, SearchResult

MAX_RESULTS = 8


@dataclass(frozen=True)
class SearxngSearch:
    url: str
    connect_timeout: float
    timeout: float
    max_bytes: int

    def __post_init__(self) -> None:
        parsed = httpx2.URL(self.url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError("GATEWAY_WEB_SEARCH_URL must be an http(s) URL")

    @property
    def _policy(self) -> EgressPolicy:
        host = httpx2.URL(self.url).host.lower().rstrip(".")
        return EgressPolicy(allow_private_networks=True, allowed_hosts=(host,))

    async def search(self, query: str, domains: tuple[str, ...] = ()) -> list[SearchResult]:
        """The top results; with ``domains``, only those on them or their subdomains."""
        client = build_http_client(
            headers={"accept": "application/json"},
            policy=self._policy,
            connect_timeout=self.connect_timeout,
            read_timeout=self.timeout,
            max_body_bytes=self.max_bytes,
        )
        try:
            async with client:
                with anyio.fail_after(self.timeout):
                    response = await client.get(self.url, params={"q": query, "format": "json"})
        except TimeoutError:
            raise SearchFailed("the search timed out") from None
        except BodyTooLarge:
            raise SearchFailed("the search backend's answer was too large") from None
        except httpx2.HTTPError as exc:
            reason = f"the search backend could not be reached ({type(exc).__name__})"
            raise SearchFailed(reason) from None
        if response.status_code != 200:
            raise SearchFailed(f"the search backend answered HTTP {response.status_code}")
        return _results(response.content, domains)


def _allowed(url: str, domains: tuple[str, ...]) -> bool:
    if not domains:
        return True
    host = urlsplit(url).hostname or ""
    return any(host == domain or host.endswith("." + domain) for domain in domains)


def _results(body: bytes, domains: tuple[str, ...]) -> list[SearchResult]:
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise SearchFailed("the search backend did not answer JSON") from None
    entries = data.get("results") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise SearchFailed("the search backend's answer has no results list")
    out: list[SearchResult] = []
    for entry in entries:
        if (
            isinstance(entry, dict)
            and isinstance(entry.get("url"), str)
            and _allowed(entry["url"], domains)
        ):
            title, content = entry.get("title"), entry.get("content")
            out.append(
                SearchResult(
                    entry["url"],
                    title if isinstance(title, str) else "",
                    content if isinstance(content, str) else "",
                )
            )
        if len(out) == MAX_RESULTS:
            break
    return out
