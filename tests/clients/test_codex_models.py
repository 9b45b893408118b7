"""Codex with model metadata: a model name Codex knows (its tools arrive as an
``additional_tools`` input item) and ``apply_patch``, which Codex offers (as a ``custom`` tool with
a Lark grammar) only to models whose metadata says so, here through ``model_catalog_json``."""

from __future__ import annotations

import json
from typing import Any

from tests.clients.codex import KNOWN_MODEL, MODEL, Codex, config_toml
from tests.clients.conftest import RecordedGateway
from tests.clients.support import offered_tool, single_string_argument
from tests.support.upstream import Reply, ScriptedUpstream, ToolCall

PATCH = """*** Begin Patch
*** Update File: greeting.txt
@@
-hello
+hello, gateway
*** End Patch
"""


def test_known_model_tools_arrive_as_additional_tools(
    codex: Codex, gw: RecordedGateway, upstream: ScriptedUpstream, mcp_url: str
) -> None:
    codex.configure(config_toml(gw.base_url, mcp_url, model=KNOWN_MODEL))
    upstream.push(Reply(content="Known model, answering."))
    run = codex.exec("Say something.")
    assert run.answer == "Known model, answering."
    (sent,) = gw.recorder.bodies()
    assert sent["model"] == KNOWN_MODEL
    extra = [item for item in sent["input"] if item.get("type") == "additional_tools"]
    assert extra, "Codex sent no additional_tools item for a model it knows"
    inner = [tool["name"] for block in extra for tool in block["tools"]]
    assert inner  # namespaces of tools
    assert offered_tool(upstream.last, "spawn_agent")  # a tool from inside the item, offered


def test_apply_patch_edits_a_file(
    codex: Codex, gw: RecordedGateway, upstream: ScriptedUpstream, mcp_url: str
) -> None:
    catalog = codex.catalog_for(MODEL)
    extra = f'model_catalog_json = "{catalog}"'
    codex.configure(config_toml(gw.base_url, mcp_url, extra=extra))
    (codex.workdir / "greeting.txt").write_text("hello\n")

    def call_apply_patch(request: dict[str, Any]) -> Reply:
        tool = offered_tool(request, "apply_patch")
        return Reply(tool_calls=[ToolCall(tool["name"], single_string_argument(tool, PATCH))])

    upstream.push(call_apply_patch, Reply(content="Patched greeting.txt."))
    run = codex.exec("Change the greeting.")
    assert (codex.workdir / "greeting.txt").read_text() == "hello, gateway\n"
    (change,) = run.items("file_change")
    assert change["status"] == "completed"
    assert run.answer == "Patched greeting.txt."
    sent = gw.recorder.bodies()
    (custom,) = [t for t in sent[0]["tools"] if t["type"] == "custom"]
    assert custom["name"] == "apply_patch"
    calls = [item for item in sent[1]["input"] if item.get("type") == "custom_tool_call"]
    assert [call["input"] for call in calls] == [PATCH]  # the call came back as Codex's own shape
    outputs = [m for m in upstream.requests[1]["messages"] if m["role"] == "tool"]
    assert len(outputs) == 1 and "greeting.txt" in json.dumps(outputs)
