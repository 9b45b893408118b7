"""The OpenAI Agents SDK in a venv of its own under ``~/.cache/responses-gateway/agents-<version>/``
(made once, idempotently, by the first test that needs it), so its pins never touch the project's.
Tests run scenario scripts with that venv's python against a gateway on loopback."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

AGENTS_VERSION = "0.24.0"
_HOME = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "responses-gateway"
VENV = _HOME / f"agents-{AGENTS_VERSION}"


def agents_python() -> Path:
    """The venv's python, installed on first use (a lock keeps parallel runs from racing)."""
    python = VENV / "bin" / "python"
    stamp = VENV / ".installed"
    if stamp.exists():
        return python
    _HOME.mkdir(parents=True, exist_ok=True)
    with open(_HOME / f"agents-{AGENTS_VERSION}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not stamp.exists():
            venv.create(VENV, with_pip=True, clear=True)
            subprocess.run(
                [
                    str(python),
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    f"openai-agents=={AGENTS_VERSION}",
                ],
                check=True,
            )
            stamp.touch()
    return python


def run_scenario(script: str, base_url: str) -> Any:
    """Run ``script`` (Python source that prints one JSON value last) in the agents venv."""
    answer = subprocess.run(
        [str(agents_python()), "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": "unused"},
        check=False,
    )
    if answer.returncode != 0:
        sys.stderr.write(answer.stderr)
        raise AssertionError(
            f"agents scenario failed ({answer.returncode}): {answer.stderr[-2000:]}"
        )
    return json.loads(answer.stdout.strip().splitlines()[-1])
