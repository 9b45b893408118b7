"""A SearXNG-shaped search server on a real loopback socket: ``GET /search?q=…&format=json``
answers ``{"results": [{"url", "title", "content"}, …]}``, or what a test scripted instead
(an HTTP error, a body that is not JSON). It records every query string it was asked."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.types import Receive, Scope, Send

from tests.support.serving import serve_in_thread


@dataclass
class SearchServer:
    status: int = 200
    body: bytes | None = None  # scripted raw body; None: results for the query
    queries: list[dict[str, list[str]]] = field(default_factory=list)
    url: str = ""

    def reset(self) -> None:
        self.status, self.body = 200, None
        self.queries.clear()

    HOSTS = ("example.org", "docs.example.org", "other.net")

    @classmethod
    def results_for(cls, query: str) -> list[dict[str, Any]]:
        return [
            {
                "url": f"https://{host}/{n}",
                "title": f"{query} result {n}",
                "content": f"About {query}, part {n}.",
            }
            for n, host in enumerate(cls.HOSTS, start=1)
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        params = parse_qs(scope["query_string"].decode())
        self.queries.append(params)
        body = self.body
        if body is None:
            query = params.get("q", [""])[0]
            body = orjson.dumps({"query": query, "results": self.results_for(query)})
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@contextlib.contextmanager
def running_search_server() -> Iterator[SearchServer]:
    server = SearchServer()
    with serve_in_thread(server, lifespan="off") as url:
        server.url = url + "/search"
        yield server
