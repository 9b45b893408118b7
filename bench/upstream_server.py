"""A fast scripted chat-completions upstream for the benchmark: raw asyncio (uvloop if present),
HTTP/1.1 keep-alive, no framework, so it never becomes the bottleneck.

POST .../responses answers as a stateless Responses server (vLLM's), JSON or streamed.
POST .../chat/completions answers a fixed small completion, non-streamed (JSON) or streamed
(``stream: true``: a role chunk, ~20 content chunks, a finish chunk, a usage chunk when
``stream_options.include_usage``, then ``data: [DONE]``; ``max_tokens`` content chunks when the
request sets it; for the model ``HELD_MODEL``, the rest after the first content chunk comes
``HOLD_SECONDS`` later, so ``bench/instructions.py`` can count a gateway's work up to its first
text delta alone). When the request offers a tool named
``add`` and its last message is not a ``tool`` message, the answer is a call to ``add`` with
``{"a":1,"b":2}`` instead (for the MCP round trip). GET .../models lists one model.

Run: ``python bench/upstream_server.py PORT`` (prints ``ready`` once listening).
"""

from __future__ import annotations

import asyncio
import itertools
import re
import sys
from typing import Any

import orjson

TOKENS = [f"tok{i} " for i in range(20)]
HELD_MODEL = "bench-held"
HOLD_SECONDS = 1.0
_FIRST_TEXT = re.compile(rb'"(?:content|delta)":"tok')  # a chat chunk's or a Responses event's
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


RESPONSES_USAGE = {
    "input_tokens": 11,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": len(TOKENS),
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 11 + len(TOKENS),
}


_serial = itertools.count()


def _message(text: str, status: str = "completed", item_id: str = "msg_bench") -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    }


def responses_object(
    request: dict[str, Any], status: str = "completed", serial: int = 0
) -> dict[str, Any]:
    """Ids are unique per answer: a gateway that stores the upstream's items keys them by id."""
    done = status == "completed"
    return {
        "id": f"resp_upstream_{serial}",
        "object": "response",
        "created_at": 0,
        "status": status,
        "model": request.get("model"),
        "output": [_message(TEXT, item_id=f"msg_upstream_{serial}")] if done else [],
        "usage": RESPONSES_USAGE if done else None,
        "error": None,
        "incomplete_details": None,
        "instructions": request.get("instructions"),
        "metadata": {},
        "parallel_tool_calls": True,
        "temperature": 1.0,
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
    }


def _event(sequence: int, body: dict[str, Any]) -> bytes:
    body["sequence_number"] = sequence
    return b"event: " + str(body["type"]).encode() + b"\ndata: " + orjson.dumps(body) + b"\n\n"


def responses_stream(request: dict[str, Any]) -> bytes:
    """created, in_progress, the message's item/part events, ~20 text deltas, completed."""
    serial = next(_serial)
    started = responses_object(request, "in_progress", serial)
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": started},
        {"type": "response.in_progress", "response": started},
        *_message_events(f"msg_upstream_{serial}"),
        {"type": "response.completed", "response": responses_object(request, serial=serial)},
    ]
    return b"".join(_event(i, event) for i, event in enumerate(events))


def _part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _message_events(item_id: str) -> list[dict[str, Any]]:
    """The message's: item added, text part added, a delta per token, text, part and item done."""
    at = {"output_index": 0, "content_index": 0, "item_id": item_id}
    added = dict(_message("", "in_progress", item_id), content=[])
    return [
        {"type": "response.output_item.added", "output_index": 0, "item": added},
        {"type": "response.content_part.added", **at, "part": _part("")},
        *({"type": "response.output_text.delta", **at, "delta": tok, "logprobs": []}
          for tok in TOKENS),
        {"type": "response.output_text.done", **at, "text": TEXT, "logprobs": []},
        {"type": "response.content_part.done", **at, "part": _part(TEXT)},
        {"type": "response.output_item.done", "output_index": 0,
         "item": _message(TEXT, item_id=item_id)},
    ]  # fmt: skip


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
        if method == "POST" and path.endswith("/responses"):
            self._respond_stateless(orjson.loads(body))
            return
        if method != "POST" or not path.endswith("/chat/completions"):
            self._send(404, b"application/json", b'{"error":{"message":"not found"}}')
            return
        request = orjson.loads(body)
        if request.get("stream"):
            self._stream(stream_body(request), held=request.get("model") == HELD_MODEL)
        else:
            self._send(200, b"application/json", completion(request))

    def _stream(self, data: bytes, *, held: bool = False) -> None:
        """A chunked event stream; ``held``: up to the first content chunk, the rest later."""
        assert self.transport is not None
        head = (
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        first = _FIRST_TEXT.search(data) if held else None
        if first is None:
            self.transport.write(head + _chunked(data))
            return
        cut = data.index(b"\n\n", first.end()) + 2
        self.transport.write(head + b"%x\r\n%s\r\n" % (cut, data[:cut]))
        rest = _chunked(data[cut:])
        asyncio.get_running_loop().call_later(HOLD_SECONDS, self.transport.write, rest)

    def _respond_stateless(self, request: dict[str, Any]) -> None:
        """A stateless ``/v1/responses`` (as vLLM serves it) for gateways that send each turn
        there, such as agentic-api in ``bench/side_by_side.py``."""
        assert self.transport is not None
        if request.get("stream"):
            self._stream(responses_stream(request), held=request.get("model") == HELD_MODEL)
        else:
            answer = responses_object(request, serial=next(_serial))
            self._send(200, b"application/json", orjson.dumps(answer))

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
