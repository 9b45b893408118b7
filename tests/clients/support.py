"""What the client tests share: the installed clients, a gateway that records what each client
sent, and helpers that script the upstream by the tool names the gateway offered the model."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tests.support.mcp_servers import _buffer_body
from tests.support.upstream import Reply, ScriptedUpstream, ToolCall, offered

HERE = Path(__file__).parent
SCRIPTS = HERE / "scripts"
INSTALL = HERE / "install.sh"
TIMEOUT = 120  # seconds one client run may take (a cold Codex start is a few seconds)
WEATHER = "sunny, 21 C in Paris"  # what every client script's weather tool answers for Paris


def install_clients() -> Path:
    """Run the idempotent installer; returns the cache directory that holds every client."""
    done = subprocess.run(
        ["bash", str(INSTALL)], check=True, capture_output=True, text=True, timeout=1800
    )
    return Path(done.stdout.strip().splitlines()[-1])


@dataclass
class Sent:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class SentRecorder:
    """ASGI middleware in front of the gateway: keeps each client request (body decoded)."""

    app: Any
    requests: list[Sent] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        body, receive = await _buffer_body(receive)
        entry = Sent(scope["method"], scope["path"], headers, _decoded(body, headers))
        self.requests.append(entry)
        await self.app(scope, receive, send)

    def bodies(self, path: str = "/v1/responses") -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.path == path and isinstance(r.body, dict)]


def _decoded(body: bytes, headers: dict[str, str]) -> Any:
    encoding = headers.get("content-encoding", "")
    if encoding == "gzip":
        import gzip

        body = gzip.decompress(body)
    elif encoding == "zstd":
        return {"zstd": len(body)}  # the gateway decodes it; a test needs only that it was sent
    try:
        return orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return body


def offered_tool(request: dict[str, Any], *parts: str) -> dict[str, Any]:
    """The one offered tool whose name contains every part (the gateway picks flat names for
    namespaced and custom tools; a test names the tool by what it is, not by that choice)."""
    found: list[dict[str, Any]] = [
        tool["function"]
        for tool in request.get("tools") or []
        if all(part in tool["function"]["name"] for part in parts)
    ]
    assert len(found) == 1, f"{parts} among {offered(request)}"
    return found[0]


def single_string_argument(tool: dict[str, Any], text: str) -> str:
    """Arguments for a freeform (custom) tool offered as a function of one string parameter."""
    (name,) = tool["parameters"]["properties"]
    return json.dumps({name: text})


def run_client(argv: list[str], **env: str) -> dict[str, Any]:
    """Run a client script; it prints one JSON object (its outcome) as its last stdout line."""
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=os.environ | env,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"{argv[:2]} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def push_weather_round_trip(upstream: ScriptedUpstream, tool: str) -> None:
    """The model calls the client's weather tool for Paris, then answers from its output."""
    upstream.push(
        Reply(tool_calls=[ToolCall(tool, json.dumps({"city": "Paris"}))]),
        Reply(content="Sunny in Paris."),
    )


def assert_weather_reached_model(upstream: ScriptedUpstream) -> None:
    """The client ran its tool and sent the output back: the model's second turn saw it."""
    tool_message = upstream.requests[1]["messages"][-1]
    assert tool_message["role"] == "tool" and WEATHER in tool_message["content"]
