"""WebSocket mode from a test: the SDK's ``responses.connect()`` and a raw ``websockets`` client
(for what the SDK hides: exact frame bytes, handshake statuses, a reader that stops reading)."""

from __future__ import annotations

from typing import Any

import orjson
from websockets.sync.client import ClientConnection, connect

TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed", "error"})


def until_terminal(connection: Any) -> list[Any]:
    """The SDK connection's events up to and including one response's terminal (or error)."""
    events: list[Any] = []
    for event in connection:
        events.append(event)
        if event.type in TERMINAL:
            return events
    raise AssertionError(f"the socket closed before a terminal event: {events}")


def sdk_turn(connection: Any, **params: Any) -> list[Any]:
    connection.response.create(**params)
    return until_terminal(connection)


def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://", 1) + "/responses"


def raw_connect(base_url: str, api_key: str | None = None, **options: Any) -> ClientConnection:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    socket = connect(ws_url(base_url), additional_headers=headers, open_timeout=10, **options)
    assert isinstance(socket, ClientConnection)  # not the reconnecting iterator
    return socket


def raw_turn(socket: ClientConnection, **body: Any) -> list[bytes]:
    """Send one ``response.create`` and read its frames (as bytes) through the terminal one."""
    socket.send(orjson.dumps({"type": "response.create", **body}).decode())
    return raw_until_terminal(socket)


def raw_recv(socket: ClientConnection, timeout: float = 30) -> bytes:
    """The next frame, which must be a text one, as bytes."""
    message = socket.recv(timeout=timeout)
    assert isinstance(message, str), "events are text frames"
    return message.encode()


def raw_until_terminal(socket: ClientConnection) -> list[bytes]:
    frames: list[bytes] = []
    while True:
        frames.append(raw_recv(socket))
        if orjson.loads(frames[-1])["type"] in TERMINAL:
            return frames
