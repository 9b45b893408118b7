"""Every item type and stream event the gateway emits, as the JS SDKs read them.

The gateway's real JSON bodies and event streams (text, reasoning with summary and sealed content,
function calls, MCP listing, calls, failures and approvals, incomplete and failed responses) are
fed to the Vercel AI SDK's OpenAI provider (``@ai-sdk/openai``, installed from npm by
``tests/clients/install.sh``), which parses them with its own zod schemas exactly as it parses
OpenAI's; any schema failure is reported by path. The same items and events are validated with
the ``openai`` SDK's types (the keys they mark required, of the right types), which the
openai-node types mirror.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import httpx
import pytest
from openai.types.responses import ResponseOutputItem, ResponseStreamEvent
from pydantic import BaseModel, TypeAdapter

from tests.clients.support import install_clients
from tests.conftest import Gateway
from tests.support.mcp_servers import McpTestServers, running_mcp_servers
from tests.support.upstream import Reply, ScriptedUpstream, ToolCall

JS = Path(__file__).parent / "js"
THOUGHT = "Two and three make five."
OUTPUT_ITEM: TypeAdapter[Any] = TypeAdapter(ResponseOutputItem)
STREAM_EVENTS: dict[str, type[BaseModel]] = {
    event.model_fields["type"].annotation.__args__[0]: event
    for event in get_args(get_args(ResponseStreamEvent)[0])
}


@pytest.fixture(scope="module")
def ai_sdk() -> str:
    """The install directory of ``@ai-sdk/openai`` (npm, cached under ~/.cache)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        if os.environ.get("CI"):
            raise RuntimeError("node and npm are needed for the JS SDK schema tests")
        pytest.skip("node/npm not found: the JS SDK schema tests need them")
    return str(install_clients() / "node")  # the clients' install holds @ai-sdk/openai too


@pytest.fixture(scope="module")
def mcp() -> Iterator[McpTestServers]:
    with running_mcp_servers() as servers:
        yield servers


def _scenarios(mcp: McpTestServers) -> dict[str, tuple[dict[str, Any], list[Reply]]]:
    """name → (request body, the upstream's replies)."""

    def server(url: str, approval: str = "never") -> dict[str, Any]:
        return {
            "type": "mcp",
            "server_label": "calc",
            "server_url": url,
            "require_approval": approval,
        }

    function = {"type": "function", "name": "lookup", "parameters": {"type": "object"}}
    add = ToolCall("add", '{"a": 2, "b": 3}')
    return {
        "text": ({"input": "hi"}, [Reply(content="Hello there.")]),
        "reasoning": (
            {
                "input": "2+3?",
                "reasoning": {"effort": "low", "summary": "auto"},
                "include": ["reasoning.encrypted_content"],
            },
            [Reply(content="5", reasoning=THOUGHT)],
        ),
        "function_call": (
            {"input": "look", "tools": [function]},
            [Reply(content="Checking.", tool_calls=[ToolCall("lookup", '{"q": 1}')])],
        ),
        "mcp_call": (
            {"input": "add", "tools": [server(mcp.streamable_url)]},
            [Reply(tool_calls=[add]), Reply(content="5")],
        ),
        "mcp_call_error": (
            {"input": "fail", "tools": [server(mcp.streamable_url)]},
            [Reply(tool_calls=[ToolCall("fail", "{}")]), Reply(content="It failed.")],
        ),
        "mcp_approval": (
            {"input": "add", "tools": [server(mcp.streamable_url, "always")]},
            [Reply(tool_calls=[add])],
        ),
        "incomplete": ({"input": "x"}, [Reply(content="cut", finish_reason="length")]),
    }


def _stream_only(mcp: McpTestServers) -> dict[str, tuple[dict[str, Any], list[Reply]]]:
    """Failures that only a stream reports as a response (a JSON create answers an HTTP error)."""
    unlisted = {"type": "mcp", "server_label": "down", "server_url": mcp.unauthorized_url}
    return {
        "failed": ({"input": "x"}, [Reply(status=503, error={"error": {"message": "overloaded"}})]),
        "mcp_list_failed": ({"input": "x", "tools": [unlisted]}, []),
    }


def _capture(
    gateway: Gateway, upstream: ScriptedUpstream, body: dict[str, Any], replies: list[Reply]
) -> str:
    upstream.push(*replies)
    answer = httpx.post(gateway.base_url + "/responses", json={"model": "m", **body}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.text


def _check_sdk_types(kind: str, text: str) -> None:
    if kind == "json":
        for item in json.loads(text)["output"]:
            OUTPUT_ITEM.validate_python(item)
        return
    for line in text.splitlines():
        if line.startswith("data: {"):
            event = json.loads(line[6:])
            response = event.get("response")
            if response and response.get("error"):
                # The SDK types error.code as OpenAI's own codes; the gateway's (upstream_error,
                # mcp_list_tools_failed…) say more and are strings to every client.
                event = {
                    **event,
                    "response": {
                        **response,
                        "error": {**response["error"], "code": "server_error"},
                    },
                }
            STREAM_EVENTS[event["type"]].model_validate(event)
            if "item" in event:
                OUTPUT_ITEM.validate_python(event["item"])


def _run_ai_sdk(ai_sdk: str, captures: list[dict[str, str]], tmp_path: Path) -> list[Any]:
    path = tmp_path / "captures.json"
    path.write_text(json.dumps(captures))
    done = subprocess.run(
        ["node", str(JS / "validate.mjs"), ai_sdk, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    results: list[Any] = json.loads(done.stdout)
    return results


def test_ai_sdk_and_openai_types_accept_every_item_and_event(
    gateway: Gateway,
    upstream: ScriptedUpstream,
    mcp: McpTestServers,
    ai_sdk: str,
    tmp_path: Path,
) -> None:
    captures: list[dict[str, str]] = []
    for name, (body, replies) in _scenarios(mcp).items():
        for kind in ("json", "sse"):
            text = _capture(gateway, upstream, {**body, "stream": kind == "sse"}, replies)
            captures.append({"name": f"{name}/{kind}", "kind": kind, "body": text})
    for name, (body, replies) in _stream_only(mcp).items():
        text = _capture(gateway, upstream, {**body, "stream": True}, replies)
        captures.append({"name": f"{name}/sse", "kind": "sse", "body": text})
    for capture in captures:
        _check_sdk_types(capture["kind"], capture["body"])

    results = {result["name"]: result for result in _run_ai_sdk(ai_sdk, captures, tmp_path)}
    failures = {
        name: result["errors"]
        for name, result in results.items()
        if result["errors"] and not name.endswith("failed/sse")
    }
    assert failures == {}
    # The failed streams parse too: their one error is the response's own, not a schema's.
    for name, message in (("failed/sse", "overloaded"), ("mcp_list_failed/sse", "'down'")):
        (error,) = results[name]["errors"]
        assert message in error and "Invalid input" not in error

    # What the SDK made of them: reasoning is shown (from summary), MCP calls are tool calls.
    shown = results["reasoning/json"]["content"]
    assert {"type": "reasoning", "text": THOUGHT} in shown
    streamed = results["reasoning/sse"]["content"]
    deltas = "".join(p.get("delta", "") for p in streamed if p["type"] == "reasoning-delta")
    assert deltas == THOUGHT
    for kind in ("json", "sse"):
        parts = results[f"mcp_call/{kind}"]["content"]
        assert {"type": "tool-call", "toolName": "mcp.add"} in [
            {key: p[key] for key in ("type", "toolName") if key in p}
            for p in parts
            if p["type"] == "tool-call"
        ], parts


def test_python_sdk_stream_helper_accepts_every_stream(
    gateway: Gateway, upstream: ScriptedUpstream, mcp: McpTestServers
) -> None:
    """The same streams through the official SDK's ``responses.stream()``: it accepts every
    event and builds the final response (the helper only does for ``completed``)."""
    client = gateway.client()
    for name, (body, replies) in _scenarios(mcp).items():
        upstream.push(*replies)
        with client.responses.stream(model="m", **body) as stream:
            events = list(stream)
            if events[-1].type == "response.completed":
                assert stream.get_final_response().output, name
        assert events[-1].type == (
            "response.incomplete" if name == "incomplete" else "response.completed"
        )
        assert events[-1].response.output, name
