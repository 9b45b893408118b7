"""The gateway as operators run it: ``responses-gateway serve`` in its own process, on a free
loopback port, its log written to a file the test reads."""

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
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class GatewayProcess:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def log(self) -> str:
        return self.log_path.read_text()

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "responses_gateway", *args],
        env=os.environ | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@contextlib.contextmanager
def gateway_process(
    env: dict[str, str], log_path: Path, *args: str, port: int | None = None
) -> Iterator[GatewayProcess]:
    port = port or free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "responses_gateway", "serve", "--port", str(port), *args],
            env=os.environ | env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    gateway = GatewayProcess(f"http://127.0.0.1:{port}", process, log_path)
    try:
        _wait_until_up(gateway)
        yield gateway
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def _wait_until_up(gateway: GatewayProcess) -> None:
    # Generous: on a loaded 2-core machine importing the app alone took over 30 s.
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if gateway.process.poll() is not None:
            raise RuntimeError(f"the gateway exited:\n{gateway.log()}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(gateway.url + "/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.05)
    raise RuntimeError(f"the gateway did not start:\n{gateway.log()}")
