"""Codex CLI with ``supports_websockets = true``: a turn with a shell command over one WebSocket,
continued with ``previous_response_id`` and only the new input, and no fallback to HTTP.

Codex is the npm ``@openai/codex`` that the client suite installs into
``~/.cache/responses-gateway/clients-<hash>/`` (``tests/clients/install.sh``); without it this
skips. The config is Codex's default but for the provider: its sub-agent ``namespace`` tools and
hosted ``web_search`` go over the socket as over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from responses_gateway.app import create_app
from tests.conftest import gateway_settings
from tests.support.serving import serve_in_thread
from tests.support.upstream import Reply, ScriptedUpstream, ToolCall

CACHE = Path(os.environ.get("RESPONSES_GATEWAY_CACHE", Path.home() / ".cache/responses-gateway"))


class Recorder:
    """The gateway app, noting every HTTP request and every client WebSocket message."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.http: list[tuple[str, str]] = []
        self.frames: list[dict[str, Any]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.http.append((scope["method"], scope["path"]))
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)

        async def noting() -> Message:
            message = await receive()
            if message["type"] == "websocket.receive":
                self.frames.append(orjson.loads(message.get("text") or message["bytes"]))
            return message

        return await self.app(scope, noting, send)


@pytest.fixture(scope="module")
def codex() -> Path:
    found = sorted(CACHE.glob("clients-*/node/node_modules/.bin/codex"), key=os.path.getmtime)
    if not found:
        pytest.skip(f"Codex CLI not installed under {CACHE}/clients-*/ (tests/clients/install.sh)")
    return found[-1]


@pytest.fixture
def recorded(database_url: str, upstream: ScriptedUpstream) -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder(create_app(gateway_settings(database_url, upstream.base_url)))
    with serve_in_thread(recorder) as url:
        yield url + "/v1", recorder


def config(base_url: str) -> str:
    return f"""model = "qwen3-coder"
model_provider = "gateway"

[model_providers.gateway]
name = "responses-gateway"
base_url = "{base_url}"
wire_api = "responses"
supports_websockets = true
request_max_retries = 0
stream_max_retries = 0
"""


def test_codex_runs_a_tool_turn_over_one_websocket(
    codex: Path, recorded: tuple[str, Recorder], upstream: ScriptedUpstream, tmp_path: Path
) -> None:
    base_url, recorder = recorded
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    (home / "config.toml").write_text(config(base_url))
    command = "echo codex-ran > proof.txt"
    upstream.push(
        Reply(tool_calls=[ToolCall("exec_command", json.dumps({"cmd": command}))]),
        Reply(content="The command ran."),
    )
    done = subprocess.run(
        [str(codex), "exec", "--json", "--skip-git-repo-check", "-s", "danger-full-access"]
        + ["-C", str(work), "Write proof.txt with a shell command."],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ | {"CODEX_HOME": str(home), "NO_COLOR": "1"},
        stdin=subprocess.DEVNULL,
        cwd=work,
    )
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Falling back" not in done.stdout, "Codex fell back to HTTP"
    assert (work / "proof.txt").read_text() == "codex-ran\n"
    items = [event["item"] for event in events if "item" in event]
    assert [i["text"] for i in items if i["type"] == "agent_message"][-1] == "The command ran."
    assert ("POST", "/v1/responses") not in recorder.http
    creates = [frame for frame in recorder.frames if frame["type"] == "response.create"]
    # Codex warms up (generate: false), chains its turn from that, then sends the tool output.
    warm_up, turn, output = creates
    assert warm_up["generate"] is False and warm_up["store"] is False
    assert {"namespace", "web_search"} <= {tool["type"] for tool in turn["tools"]}  # the defaults
    assert "previous_response_id" not in warm_up and turn["previous_response_id"]
    assert output["previous_response_id"] not in (None, turn["previous_response_id"])
    assert [item["type"] for item in output["input"]] == ["function_call_output"]
    assert len(upstream.requests) == 2  # the warm-up did not call the model
    assert [m["role"] for m in upstream.last["messages"]][-2:] == ["assistant", "tool"]
