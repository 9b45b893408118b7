"""Serve an ASGI app on a real loopback socket in a background thread (tests and benchmarks)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn


class _Served:
    """One app served by uvicorn in a thread of its own, on a socket bound to port 0 first (so
    there is no port race). The app's lifespan runs (the MCP streamable-HTTP session manager and
    the gateway both need it)."""

    def __init__(self, app: Any, host: str, config: dict[str, Any]) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, 0))
        self.url = f"http://{host}:{self._sock.getsockname()[1]}"
        options: dict[str, Any] = {"log_level": "warning", "lifespan": "on"} | config
        self._server = uvicorn.Server(uvicorn.Config(app, **options))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                self.stop()
                self.join()
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        """Tell it to stop; uvicorn notices on its next 0.1 s tick."""
        self._server.should_exit = True

    def join(self) -> None:
        self._thread.join(timeout=15)
        self._sock.close()


@contextlib.contextmanager
def serve_in_thread(app: Any, host: str = "127.0.0.1", **config: Any) -> Iterator[str]:
    """Yield the base URL (``http://127.0.0.1:PORT``) of ``app`` served by uvicorn."""
    served = _Served(app, host, config)
    try:
        yield served.url
    finally:
        served.stop()
        served.join()


@contextlib.contextmanager
def serving_together() -> Iterator[Callable[[Any], str]]:
    """Yield ``serve(app) -> base URL``; on exit every app served so is told to stop at once,
    then all are joined. One after another, each waited for uvicorn's tick and its shutdown:
    the six MCP test servers took 1.1 s to stop."""
    started: list[_Served] = []

    def serve(app: Any) -> str:
        started.append(_Served(app, "127.0.0.1", {}))
        return started[-1].url

    try:
        yield serve
    finally:
        for served in started:
            served.stop()
        for served in started:
            served.join()
