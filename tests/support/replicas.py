"""Gateway replicas as separate processes (uvicorn subprocesses) sharing one database, so that
one can be killed with SIGKILL mid-run like a crashed machine."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import openai


@dataclass
class Replica:
    url: str
    process: subprocess.Popen[bytes]

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.base_url, api_key="unused", max_retries=0)

    def kill(self) -> None:
        """SIGKILL: no lifespan shutdown, no lease given back, as when a machine dies."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


@contextlib.contextmanager
def running_replica(env: dict[str, str]) -> Iterator[Replica]:
    """One gateway process on a socket bound here (``--fd``: no port race), ready to serve."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    command = [
        sys.executable, "-m", "uvicorn", "responses_gateway.app:app_from_environment",
        "--factory", "--fd", str(sock.fileno()), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=os.environ | env, pass_fds=[sock.fileno()])
    try:
        _wait_ready(url, process)
        yield Replica(url, process)
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(15)
        sock.close()


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120  # a loaded machine took 30 s to import the app
    while time.monotonic() < deadline:
        assert process.poll() is None, "the gateway process exited"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError("the gateway process did not become ready")
