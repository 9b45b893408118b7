"""A fast scripted chat-completions upstream for the benchmark: raw asyncio (uvloop if present),
HTTP/1.1 keep-alive, no framework, so it never becomes the bottleneck.

POST .../chat/completions answers a fixed small completion, non-streamed (JSON) or streamed
(``stream: true``: a role chunk, ~20 content chunks, a finish chunk, a usage chunk when
``stream_options.include_usage``, then ``data: [DONE]``; ``max_tokens`` content chunks when the
request sets it). When the request offers a tool named
``add`` and its last message is not a ``tool`` message, the answer is a call to ``add`` with
``{"a":1,"b":2}`` instead (for the MCP round trip). GET .../models lists one model.

Run: ``python bench/upstream_server.py PORT`` (prints ``ready`` once listening).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import orjson

TOKENS = [f"tok{i} " for i in range(20)]
TEXT = "".join(TOKENS)
USAGE = {"prompt_tokens": 11, "completion_tokens": len(TOKENS), "total_tokens": 11 + len(TOKENS)}
ADD_CALL = {
    "id": "call_add_1",
    "type": "function",
    "function": {"name": "add", "arguments": '{"a":1,"b":2}'},
}


def wants_tool_call(request: dict[str, Any]) -> bool:
    tools = request.get("tools") or ()
    if not any((t.get("function") or {}).get("name") == "add" for t in tools):
        return False
    messages = request.get("messages") or ()
    return not messages or messages[-1].get("role") != "tool"


def completion(request: dict[str, Any]) -> bytes:
    if wants_tool_call(request):
        message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [ADD_CALL]}
        finish = "tool_calls"
    else:
        message, finish = {"role": "assistant", "content": TEXT}, "stop"
    return orjson.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 0,
            "model": request.get("model"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": USAGE,
        }
    )


def _chunk(model: Any, delta: dict[str, Any], finish: str | None = None) -> bytes:
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + orjson.dumps(body) + b"\n\n"


def stream_body(request: dict[str, Any]) -> bytes:
    model = request.get("model")
    parts = [_chunk(model, {"role": "assistant", "content": ""})]
    if wants_tool_call(request):
        call = dict(ADD_CALL, index=0)
        parts.append(_chunk(model, {"tool_calls": [call]}))
        parts.append(_chunk(model, {}, "tool_calls"))
    else:
        count = request.get("max_tokens")  # a longer answer on request (bench/background.py)
        tokens = [f"tok{i} " for i in range(count)] if count else TOKENS
        parts.extend(_chunk(model, {"content": tok}) for tok in tokens)
        parts.append(_chunk(model, {}, "stop"))
    if (request.get("stream_options") or {}).get("include_usage"):
        usage = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "choices": [],
            "usage": USAGE,
        }
        parts.append(b"data: " + orjson.dumps(usage) + b"\n\n")
    parts.append(b"data: [DONE]\n\n")
    return b"".join(parts)


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data)


MODELS = orjson.dumps({"object": "list", "data": [{"id": "bench", "object": "model"}]})


class Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).decode("latin-1")
            lines = head.split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if headers.get("transfer-encoding", "").lower() == "chunked":
                body, consumed = _dechunk(self.buf, end + 4)
                if body is None:
                    return
                del self.buf[:consumed]
            else:
                length = int(headers.get("content-length", "0"))
                if len(self.buf) < end + 4 + length:
                    return
                body = bytes(self.buf[end + 4 : end + 4 + length])
                del self.buf[: end + 4 + length]
            self.respond(method, path, body)

    def respond(self, method: str, path: str, body: bytes) -> None:
        assert self.transport is not None
        if path.endswith("/models"):
            self._send(200, b"application/json", MODELS)
            return
        if method != "POST" or not path.endswith("/chat/completions"):
            self._send(404, b"application/json", b'{"error":{"message":"not found"}}')
            return
        request = orjson.loads(body)
        if request.get("stream"):
            self.transport.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                b"transfer-encoding: chunked\r\n\r\n" + _chunked(stream_body(request))
            )
        else:
            self._send(200, b"application/json", completion(request))

    def _send(self, status: int, ctype: bytes, payload: bytes) -> None:
        assert self.transport is not None
        reason = b"OK" if status == 200 else b"Not Found"
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n%s"
            % (status, reason, ctype, len(payload), payload)
        )


def _dechunk(buf: bytearray, pos: int) -> tuple[bytes | None, int]:
    out = bytearray()
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None, 0
        size = int(bytes(buf[pos:eol]).split(b";")[0], 16)
        if size == 0:
            if len(buf) < eol + 4:
                return None, 0
            return bytes(out), eol + 4
        if len(buf) < eol + 2 + size + 2:
            return None, 0
        out += buf[eol + 2 : eol + 2 + size]
        pos = eol + 2 + size + 2


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Protocol, "127.0.0.1", port, backlog=1024)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:
        asyncio.run(main(int(sys.argv[1])))
    else:
        uvloop.run(main(int(sys.argv[1])))
