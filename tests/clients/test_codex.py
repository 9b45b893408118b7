"""Codex CLI (npm ``@openai/codex``) against the gateway with its default config plus an MCP server
in Codex's own config: a plain turn, a shell command Codex runs, an MCP tool Codex calls, and
``codex exec resume --last``. Codex sends ``store: false`` and the whole history every turn."""

from __future__ import annotations

import json
from typing import Any

from tests.clients.codex import Codex
from tests.clients.conftest import RecordedGateway
from tests.clients.support import offered_tool
from tests.support.upstream import Reply, ScriptedUpstream, ToolCall, offered


def tool_results(request: dict[str, Any]) -> list[str]:
    """The tool messages the gateway sent the model (text parts joined)."""
    results = []
    for message in request["messages"]:
        if message["role"] == "tool":
            content = message["content"]
            if isinstance(content, list):
                content = "".join(part.get("text", "") for part in content)
            results.append(content)
    return results


def user_texts(request: dict[str, Any]) -> str:
    return json.dumps([m["content"] for m in request["messages"] if m["role"] == "user"])


def test_plain_turn(codex: Codex, gw: RecordedGateway, upstream: ScriptedUpstream) -> None:
    upstream.push(Reply(content="Hello from the gateway, Codex."))
    run = codex.exec("Say hello.")
    assert run.answer == "Hello from the gateway, Codex."
    (sent,) = gw.recorder.bodies()
    kinds = {tool["type"] for tool in sent["tools"]}
    assert {"function", "namespace", "web_search"} <= kinds  # the default config's tool shapes
    assert sent["store"] is False and sent["stream"] is True
    assert "exec_command" in offered(upstream.last)
    assert offered_tool(upstream.last, "docs", "add")  # the MCP namespace, flattened
    assert "Say hello." in user_texts(upstream.last)


def test_shell_command_runs_and_the_turn_finishes(codex: Codex, upstream: ScriptedUpstream) -> None:
    command = "echo codex-ran > proof.txt && cat proof.txt"

    upstream.push(
        Reply(tool_calls=[ToolCall("exec_command", json.dumps({"cmd": command}))]),
        Reply(content="The command wrote proof.txt."),
    )
    run = codex.exec("Write proof.txt with a shell command.")
    assert (codex.workdir / "proof.txt").read_text() == "codex-ran\n"
    (execution,) = run.items("command_execution")
    assert "codex-ran" in execution["aggregated_output"]
    assert run.answer == "The command wrote proof.txt."
    assert len(upstream.requests) == 2
    (output,) = tool_results(upstream.requests[1])  # what Codex sent back reached the model
    assert "codex-ran" in output


def test_mcp_tool_called_through_codex(
    codex: Codex, gw: RecordedGateway, upstream: ScriptedUpstream
) -> None:
    def call_add(request: dict[str, Any]) -> Reply:
        add = offered_tool(request, "docs", "add")
        return Reply(tool_calls=[ToolCall(add["name"], json.dumps({"a": 2, "b": 40}))])

    upstream.push(call_add, Reply(content="2 + 40 = 42, said the docs server."))
    run = codex.exec("Add 2 and 40 with the docs server.")
    (call,) = run.items("mcp_tool_call")
    assert (call["server"], call["tool"], call["status"]) == ("docs", "add", "completed")
    assert "42" in json.dumps(call["result"])
    assert run.answer == "2 + 40 = 42, said the docs server."
    (output,) = tool_results(upstream.requests[1])
    assert "42" in output
    # Codex ran the call because it came back as its own namespace and inner name.
    calls = [i for i in gw.recorder.bodies()[1]["input"] if i.get("type") == "function_call"]
    assert [(c["namespace"], c["name"]) for c in calls] == [("mcp__docs", "add")]


def test_exec_resume_last(codex: Codex, gw: RecordedGateway, upstream: ScriptedUpstream) -> None:
    upstream.push(Reply(content="Noted, Ada."))
    first = codex.exec("My name is Ada.")

    upstream.push(Reply(content="Your name is Ada."))
    second = codex.exec("What is my name?", resume=True)
    assert second.answer == "Your name is Ada."
    history = json.dumps(upstream.requests[1]["messages"])
    assert "My name is Ada." in history and "Noted, Ada." in history
    assert second.thread_id == first.thread_id
    turns = gw.recorder.bodies()
    assert len(turns) == 2 and all(body["store"] is False for body in turns)
    assert len(turns[1]["input"]) > len(turns[0]["input"])  # the whole history, resent


def test_reasoning_shown(codex: Codex, upstream: ScriptedUpstream) -> None:
    upstream.push(Reply(reasoning="The user greets me, so I greet back.", content="Hello."))
    run = codex.exec("Hello?")
    (reasoning,) = run.items("reasoning")
    assert "The user greets me, so I greet back." in reasoning["text"]
    assert run.answer == "Hello."
