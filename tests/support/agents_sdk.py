"""The OpenAI Agents SDK in a venv of its own (``tests/clients/install.sh`` makes it once under
``~/.cache/responses-gateway/``), so its pins never touch the project's. Tests run scenario
scripts with that venv's python against a gateway on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.clients.support import install_clients


def agents_python() -> Path:
    """The Agents SDK's python: the clients' install (``tests/clients/install.sh``) holds it."""
    return install_clients() / "agents" / "bin" / "python"


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
