"""Run the real Codex CLI (npm ``@openai/codex``) against the gateway: a ``CODEX_HOME`` with the
README's ``config.toml`` (a custom provider with ``wire_api = "responses"`` plus an MCP server in
Codex's own config), ``codex exec --json``, and its JSONL events parsed."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.clients.support import TIMEOUT

MODEL = "qwen3-coder"  # a model name Codex does not know: its fallback metadata
KNOWN_MODEL = "gpt-6.2-sol"  # in Codex's bundled catalog: tools arrive as `additional_tools`
TEMPLATE_MODEL = "gpt-5.5"  # the bundled entry a catalog copies to offer `apply_patch`


def config_toml(base_url: str, mcp_url: str, model: str = MODEL, extra: str = "") -> str:
    """The README's tested config (the retry lines only make a failing test fail fast)."""
    return f"""model = "{model}"
model_provider = "gateway"
{extra}
[model_providers.gateway]
name = "responses-gateway"
base_url = "{base_url}"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0

[mcp_servers.docs]
url = "{mcp_url}"
"""


@dataclass
class CodexRun:
    events: list[dict[str, Any]]
    stderr: str

    def items(self, kind: str) -> list[dict[str, Any]]:
        return [
            event["item"]
            for event in self.events
            if event.get("type") == "item.completed" and event["item"].get("type") == kind
        ]

    @property
    def answer(self) -> str:
        messages = self.items("agent_message")
        assert messages, f"no agent message in {self.events}\n{self.stderr[-3000:]}"
        text: str = messages[-1]["text"]
        return text

    @property
    def thread_id(self) -> str:
        (started,) = [e for e in self.events if e.get("type") == "thread.started"]
        thread: str = started["thread_id"]
        return thread


@dataclass
class Codex:
    """One Codex home (config, sessions) and one working directory."""

    binary: Path
    home: Path
    workdir: Path

    def configure(self, text: str) -> None:
        (self.home / "config.toml").write_text(text)

    def exec(self, prompt: str, *args: str, resume: bool = False) -> CodexRun:
        command = [str(self.binary), "exec", "--json", "--skip-git-repo-check"]
        command += ["-s", "danger-full-access", "-C", str(self.workdir), *args]
        command += ["resume", "--last", prompt] if resume else [prompt]
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env=os.environ | {"CODEX_HOME": str(self.home), "NO_COLOR": "1"},
            stdin=subprocess.DEVNULL,
            cwd=self.workdir,
        )
        events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        run = CodexRun(events, done.stderr)
        failed = [e for e in events if e.get("type") in ("turn.failed", "error")]
        assert done.returncode == 0 and not failed, (
            f"codex exited {done.returncode}: {failed}\n{done.stderr[-3000:]}"
        )
        return run

    def catalog_for(self, model: str, template: str = TEMPLATE_MODEL) -> Path:
        """A ``model_catalog_json`` that gives ``model`` the metadata of Codex's own ``template``
        entry (from ``codex debug models``), so Codex offers it ``apply_patch``."""
        done = subprocess.run(
            [str(self.binary), "debug", "models"],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env=os.environ | {"CODEX_HOME": str(self.home)},
            check=True,
        )
        models = json.loads(done.stdout)["models"]
        (entry,) = [m for m in models if m["slug"] == template]
        path = self.home / "catalog.json"
        path.write_text(json.dumps({"models": [entry | {"slug": model, "display_name": model}]}))
        return path


def codex_binary(cache: Path) -> Path:
    return cache / "node" / "node_modules" / ".bin" / "codex"
