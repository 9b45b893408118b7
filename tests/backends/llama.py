"""A real ``llama-server`` process on a free loopback port, for the real-backend tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.process import free_port

ENSURE = Path(__file__).with_name("ensure_llama_server.sh")


@dataclass(frozen=True)
class LlamaInstall:
    server: Path
    model: Path
    tool_template: Path


def ensure_install() -> LlamaInstall:
    """Build llama-server and install the model once (minutes cold, seconds warm)."""
    done = subprocess.run(["bash", str(ENSURE), sys.executable], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{ENSURE.name} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    server, model, template = done.stdout.split()
    return LlamaInstall(Path(server), Path(model), Path(template))


class LlamaServer:
    """``llama-server --jinja -np 1 -c 4096`` with SmolLM2-135M; killable and freezable."""

    def __init__(self, install: LlamaInstall, *extra: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log.open("wb")
        args = [str(install.server), "-m", str(install.model), "--jinja", "-np", "1"]
        args += ["-c", "4096", "--host", "127.0.0.1", "--port", str(self.port), *extra]
        self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT)
        self._wait_ready(log)

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def _wait_ready(self, log: Path) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama-server exited early; see {log}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"llama-server did not become ready; see {log}")

    def freeze(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)  # a frozen process cannot exit
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()
