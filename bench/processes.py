"""The benchmark's child processes: ports, starting and stopping them, waiting until they serve,
and py-spy recordings of the gateway.

Children get SIGTERM from the kernel if the driver dies, whatever way it dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from httpclient import Connection

BENCH = Path(__file__).resolve().parent
PYTHON = sys.executable
GATEWAY_BIN = Path(PYTHON).with_name("responses-gateway")
HOST = "127.0.0.1"


def drive_from_core_1() -> None:
    """Pin this process (the load generator) to core 1, where the upstreams run, leaving core 0
    to the gateway (a one-core machine keeps its one). Unpinned, the scheduler moves the driver
    onto the gateway's core whenever core 1 is busier, as with PostgreSQL pinned there."""
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, {1} if (os.cpu_count() or 1) > 1 else {0})


def _pdeathsig() -> None:
    """In the child: get SIGTERM when the driver dies, whatever way it dies."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Children:
    procs: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    logs: dict[str, Path] = field(default_factory=dict)
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="gw-bench-")))

    def start(
        self, name: str, argv: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = self.tmp / f"{name}.log"
        self.logs[name] = log
        with log.open("wb") as out:
            proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.tmp,
                start_new_session=True,
                preexec_fn=_pdeathsig,
            )
        self.procs.append((name, proc))
        return proc

    def tail(self, name: str, lines: int = 30) -> str:
        log = self.logs.get(name)
        if log is None or not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def check_alive(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.tail(name)}")

    def stop_all(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 8
        for _, proc in reversed(self.procs):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(timeout=5)
        self.procs.clear()
        shutil.rmtree(self.tmp, ignore_errors=True)


def gateway_env(upstream_url: str, database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a benchmarked gateway: this one's, quiet (no request log line per
    request), without API keys (the load generator sends none), plus ``settings``."""
    env = dict(
        os.environ,
        GATEWAY_UPSTREAM_URL=upstream_url,
        GATEWAY_DATABASE_URL=database_url,
        GATEWAY_LOG_LEVEL="warning",
        **settings,
    )
    env.pop("GATEWAY_API_KEYS", None)
    return env


def upstream_url(port: int) -> str:
    return f"http://{HOST}:{port}/v1"


def start_upstream(children: Children) -> int:
    """The scripted upstream on core 1 (where the load generator runs, away from the gateway's
    core 0), once it serves; its port."""
    port = free_port()
    argv = ["taskset", "-c", "1", PYTHON, str(BENCH / "upstream_server.py"), str(port)]
    wait_ready_line(children, "upstream", children.start("upstream", argv))
    return port


def wait_ready_line(
    children: Children, name: str, proc: subprocess.Popen[bytes], timeout: float = 20
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{children.tail(name)}")
        if "ready" in children.logs[name].read_text(errors="replace"):
            return
        time.sleep(0.02)
    raise RuntimeError(f"{name} did not start within {timeout:.0f}s:\n{children.tail(name)}")


async def wait_http(
    port: int,
    path: str,
    proc: subprocess.Popen[bytes],
    children: Children,
    name: str,
    timeout: float = 60,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{children.tail(name)}")
        conn = Connection(HOST, port)
        try:
            result = await conn.request("GET", path)
            if result.status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        await asyncio.sleep(0.05)
    raise RuntimeError(
        f"{name} did not answer {path} within {timeout:.0f}s:\n{children.tail(name)}"
    )


def _start_py_spy(pid: int, out: Path) -> subprocess.Popen[bytes]:
    spy = shutil.which("py-spy") or str(Path(PYTHON).with_name("py-spy"))
    proc = subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "--rate",
            os.environ.get("PYSPY_RATE", "250"),
            "--nonblocking",
            "--gil",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_pdeathsig,
    )
    return proc


@contextlib.asynccontextmanager
async def profiled(out_dir: Path | None, name: str, pid: int) -> AsyncIterator[None]:
    """With ``--profile DIR``: py-spy samples the gateway (raw collapsed stacks) during the block;
    ``--gil`` keeps only samples of the thread holding the GIL, i.e. Python CPU time (SQLite's
    own C work in the store's threads runs without the GIL: see "% in loop")."""
    if out_dir is None:
        yield
        return
    proc = _start_py_spy(pid, out_dir / f"{name}.txt")
    await asyncio.sleep(0.5)  # let py-spy attach
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
