"""Real MCP servers on loopback for tests, with a request recorder in front of each.

``running_mcp_servers()`` starts, each on its own port:

* ``streamable_url`` – the test tools over Streamable HTTP (``/mcp``);
* ``sse_url`` – the same tools over legacy HTTP+SSE only (``/sse``; a POST there gets 405, so
  "auto" has to fall back);
* ``other_streamable_url`` – a second server whose ``add`` collides with the first one's;
* ``unauthorized_url`` – answers 401 to everything (auth failures must not fall back);
* ``redirect_url`` – answers 307 to ``sink`` on another port (cross-origin redirect).

Each ``Recorder`` keeps the requests its app saw, including JSON-RPC method names and headers,
so tests can count ``initialize`` calls or prove a header never arrived. ``mcp_tool(url)`` is a
request's tool for one of the servers, ``ADD`` the model's call of their ``add``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import anyio
from mcp.server.mcpserver import Context, Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from openai.types.responses.tool_param import Mcp

from tests.support.serving import serving_together
from tests.support.upstream import ToolCall

Scope = dict[str, Any]
Message = dict[str, Any]

PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def build_server(name: str = "test-server") -> MCPServer:
    """The tools every transport test uses."""
    server = MCPServer(name, instructions="Tools for responses-gateway tests.")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def fail(msg: str = "boom") -> str:
        """Always fails with ``msg``."""
        raise ToolError(msg)

    @server.tool()
    def echo_auth(ctx: Context) -> dict[str, str | None]:
        """Echo the Authorization and X-Test headers of the HTTP request carrying this call."""
        headers = getattr(ctx.request_context.request, "headers", None) or {}
        return {"authorization": headers.get("authorization"), "x_test": headers.get("x-test")}

    @server.tool()
    def big(n: int) -> str:
        """Return ``n`` bytes of text."""
        return "é" * (n // 2)

    @server.tool()
    async def slow(seconds: float) -> str:
        """Sleep, then answer."""
        await anyio.sleep(seconds)
        return "done"

    @server.tool()
    def picture() -> Image:
        """Return a tiny PNG (non-text content)."""
        return Image(data=PNG_BYTES, format="png")

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def lookup(key: str) -> str:
        """Read-only lookup."""
        return f"value-of-{key}"

    return server


def build_other_server() -> MCPServer:
    """A second server whose ``add`` collides with ``build_server``'s."""
    server = MCPServer("other-server")

    @server.tool()
    def add(x: str, y: str) -> str:
        """Concatenate two strings (same name, different tool)."""
        return x + y

    return server


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    rpc_methods: list[str] = field(default_factory=list)


@dataclass
class Recorder:
    """ASGI middleware that records each HTTP request before passing it on."""

    app: Any
    requests: list[Recorded] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        entry = Recorded(scope["method"], scope["path"], headers)
        self.requests.append(entry)
        if scope["method"] == "POST":
            body, receive = await _buffer_body(receive)
            entry.rpc_methods = _rpc_methods(body)
        await self.app(scope, receive, send)

    def rpc_count(self, method: str) -> int:
        return sum(entry.rpc_methods.count(method) for entry in self.requests)

    def http_methods(self) -> list[str]:
        return [entry.method for entry in self.requests]


async def _buffer_body(receive: Any) -> tuple[bytes, Any]:
    """Read the whole request body and return a ``receive`` that replays it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        message: Message = await receive()  # after the body: http.disconnect
        return message

    return body, replay


def _rpc_methods(body: bytes) -> list[str]:
    try:
        payload = json.loads(body)
    except ValueError:
        return []
    messages = payload if isinstance(payload, list) else [payload]
    return [m["method"] for m in messages if isinstance(m, dict) and "method" in m]


def status_app(status: int, headers: list[tuple[bytes, bytes]]) -> Any:
    """An ASGI app that answers every HTTP request with ``status`` and ``headers``."""

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    return app


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


@dataclass
class McpTestServers:
    streamable_url: str
    sse_url: str
    other_streamable_url: str
    unauthorized_url: str
    redirect_url: str
    streamable: Recorder
    sse: Recorder
    other: Recorder
    unauthorized: Recorder
    redirect: Recorder
    sink: Recorder

    def reset(self) -> None:
        """Forget recorded requests (the servers are shared by every test)."""
        for recorder in (self.streamable, self.sse, self.other, self.unauthorized):
            recorder.requests.clear()
        self.redirect.requests.clear()
        self.sink.requests.clear()


ADD = ToolCall("add", '{"a": 2, "b": 3}')
"""The model's call of the test servers' ``add``: 2 + 3, whose output is "5"."""


def mcp_tool(url: str, label: str | None = "calc", **fields: Any) -> Mcp:
    """A request's ``mcp`` tool for one of these servers (``label=None`` leaves it out), as the
    SDK's tool param (a cast: ``fields`` may hold what its type does not model, on purpose)."""
    tool: dict[str, Any] = {"type": "mcp", "server_url": url, **fields}
    if label is not None:
        tool["server_label"] = label
    return cast(Mcp, tool)


@contextlib.contextmanager
def running_mcp_servers() -> Iterator[McpTestServers]:
    """Start every test server on loopback; stop them all on exit."""
    streamable = Recorder(build_server().streamable_http_app())
    sse = Recorder(build_server().sse_app())
    other = Recorder(build_other_server().streamable_http_app())
    unauthorized = Recorder(status_app(401, [(b"www-authenticate", b'Bearer realm="test"')]))
    sink = Recorder(status_app(404, []))
    with serving_together() as serve:
        location = f"{serve(sink)}/mcp".encode()
        redirect = Recorder(status_app(307, [(b"location", location)]))
        yield McpTestServers(
            streamable_url=serve(streamable) + "/mcp",
            sse_url=serve(sse) + "/sse",
            other_streamable_url=serve(other) + "/mcp",
            unauthorized_url=serve(unauthorized) + "/mcp",
            redirect_url=serve(redirect) + "/mcp",
            streamable=streamable,
            sse=sse,
            other=other,
            unauthorized=unauthorized,
            redirect=redirect,
            sink=sink,
        )
