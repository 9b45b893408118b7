"""A scripted chat-completions server: a real HTTP server on loopback that answers what a test
scripted (text, reasoning, tool calls, errors; streamed or not) and records every request."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

from tests.support.serving import serve_in_thread


@dataclass
class ToolCall:
    name: str
    arguments: str
    id: str | None = None


@dataclass
class Reply:
    content: str | None = None
    reasoning: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    status: int = 200
    error: dict[str, Any] | None = None
    delay: float = 0.0  # seconds before the first byte
    chunk_delay: float = 0.0  # seconds between streamed chunks
    chunk_size: int = 4  # characters per streamed content chunk
    usage_names: str = "chat"  # "chat": prompt_tokens…; "responses": input_tokens…
    # Quirks of real servers (see tests/support/quirks.py):
    headers: dict[str, str] = field(default_factory=dict)  # sent with the answer (a 429's)
    reports_usage: bool = True  # False: no usage at all (llama-cpp-python's streams)
    has_choices: bool = True  # False: a 200 without choices
    sends_finish: bool = True  # False: no chunk carries a finish_reason
    sends_done: bool = True  # False: the stream closes without data: [DONE]
    cut_after: int | None = None  # the stream breaks after this many chunks…
    cut_error: dict[str, Any] | None = None  # …with this error chunk (llama-server), else the
    # connection is dropped

    def finish(self) -> str:
        if self.finish_reason:
            return self.finish_reason
        return "tool_calls" if self.tool_calls else "stop"

    def usage_body(self) -> dict[str, Any]:
        usage = self.usage or {"prompt_tokens": 11, "completion_tokens": 7}
        prompt, completion = usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
        body: dict[str, Any]
        if self.usage_names == "responses":
            body = {"input_tokens": prompt, "output_tokens": completion}
        else:
            body = {"prompt_tokens": prompt, "completion_tokens": completion}
        body["total_tokens"] = prompt + completion
        if "cached_tokens" in usage:
            key = (
                "input_tokens_details"
                if self.usage_names == "responses"
                else "prompt_tokens_details"
            )
            body[key] = {"cached_tokens": usage["cached_tokens"]}
        if "reasoning_tokens" in usage:
            key = (
                "output_tokens_details"
                if self.usage_names == "responses"
                else "completion_tokens_details"
            )
            body[key] = {"reasoning_tokens": usage["reasoning_tokens"]}
        return body


Script = Reply | Callable[[dict[str, Any]], Reply]
_MODELS = ({"id": "scripted", "object": "model"},)


class ScriptedUpstream:
    """An ASGI app; ``push`` scripts the next replies, ``requests`` records what arrived."""

    def __init__(self) -> None:
        self.replies: collections.deque[Script] = collections.deque()
        self.default: Script = Reply(content="Hello from the scripted upstream.")
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        # "vllm" or "llamacpp": answer that backend's /tokenize (and /apply-template); else 404.
        self.tokenizer: str | None = None
        self.models: list[dict[str, Any]] = list(_MODELS)  # what /v1/models lists
        self.tokenized: list[tuple[str, dict[str, Any]]] = []  # (path, body) of those calls
        self.cancelled = threading.Event()
        self.base_url = ""

    def push(self, *replies: Script) -> None:
        self.replies.extend(replies)

    def reset(self) -> None:
        self.replies.clear()
        self.requests.clear()
        self.headers.clear()
        self.cancelled.clear()
        self.default = Reply(content="Hello from the scripted upstream.")
        self.tokenizer = None
        self.tokenized.clear()
        self.models = list(_MODELS)

    @property
    def last(self) -> dict[str, Any]:
        return self.requests[-1]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        if path in ("/tokenize", "/apply-template"):
            await self._tokenize(path, orjson.loads(body), send)
            return
        if path.endswith("/models"):
            await _send_json(send, 200, {"object": "list", "data": self.models})
            return
        request = orjson.loads(body)
        self.requests.append(request)
        self.headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
        script = self.replies.popleft() if self.replies else self.default
        reply = script(request) if callable(script) else script
        watcher = asyncio.create_task(self._watch_disconnect(receive))
        try:
            if reply.delay and (await asyncio.wait({watcher}, timeout=reply.delay))[0]:
                return  # the gateway hung up while we "thought"
            if reply.status >= 400:
                error = reply.error or {"error": {"message": "scripted failure"}}
                await _send_json(send, reply.status, error, reply.headers)
            elif request.get("stream"):
                await self._stream(reply, request, send)
            else:
                await _send_json(send, 200, _completion(reply, request), reply.headers)
        finally:
            watcher.cancel()

    async def _tokenize(self, path: str, body: dict[str, Any], send: Send) -> None:
        """vLLM's /tokenize takes messages; llama.cpp's takes a prompt from /apply-template."""
        self.tokenized.append((path, body))
        if self.tokenizer == "vllm" and path == "/tokenize":
            count = scripted_token_count(render_template(body["messages"], body.get("tools")))
            await _send_json(send, 200, {"count": count, "max_model_len": 4096, "tokens": []})
        elif self.tokenizer == "llamacpp" and path == "/apply-template":
            prompt = render_template(body["messages"], body.get("tools"))
            await _send_json(send, 200, {"prompt": prompt})
        elif self.tokenizer == "llamacpp":
            tokens = list(range(scripted_token_count(body.get("content", ""))))  # as llama.cpp
            await _send_json(send, 200, {"tokens": tokens})
        else:
            await _send_json(send, 404, {"error": {"message": "Not Found"}})

    async def _watch_disconnect(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self.cancelled.set()

    async def _stream(self, reply: Reply, request: dict[str, Any], send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": _headers("text/event-stream", reply.headers),
            }
        )
        for sent, chunk in enumerate(_chunks(reply, request)):
            if self.cancelled.is_set():
                return  # the gateway hung up: stop generating, as a real server does
            if sent == reply.cut_after:
                await _cut(reply, send)
                return
            if reply.chunk_delay:
                await asyncio.sleep(reply.chunk_delay)
            data = b"data: " + orjson.dumps(chunk) + b"\n\n"
            await send({"type": "http.response.body", "body": data, "more_body": True})
        end = b"data: [DONE]\n\n" if reply.sends_done else b""
        await send({"type": "http.response.body", "body": end, "more_body": False})


def offered(request: dict[str, Any]) -> list[str]:
    """The tool names the gateway offered the upstream in one chat request."""
    return [tool["function"]["name"] for tool in request.get("tools") or []]


class ScriptedCut(Exception):
    """Raised inside the app: uvicorn drops the connection mid-body, as a crashed server does."""


async def _cut(reply: Reply, send: Send) -> None:
    if reply.cut_error is None:
        raise ScriptedCut("the scripted upstream breaks the stream here")
    data = b"data: " + orjson.dumps(reply.cut_error) + b"\n\n"
    await send({"type": "http.response.body", "body": data, "more_body": False})


def _headers(content_type: str, extra: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", content_type.encode())] + [
        (name.encode(), value.encode()) for name, value in extra.items()
    ]


def render_template(messages: list[dict[str, Any]], tools: Any = None) -> str:
    """The scripted chat template: one line per message, then the tools' JSON."""
    lines = [f"<|{m['role']}|> {orjson.dumps(m.get('content')).decode()}" for m in messages]
    if tools:
        lines.append(orjson.dumps(tools).decode())
    return "\n".join(lines) + "\n<|assistant|>"


def scripted_token_count(text: str) -> int:
    """The scripted tokenizer: one token per whitespace-separated piece."""
    return len(text.split())


async def _send_json(
    send: Send, status: int, body: Any, headers: dict[str, str] | None = None
) -> None:
    data = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": _headers("application/json", headers or {}),
        }
    )
    await send({"type": "http.response.body", "body": data})


def _tool_calls(reply: Reply) -> list[dict[str, Any]]:
    return [
        {
            "id": call.id or f"call_{index}_{abs(hash(call.arguments)) % 10**8}",
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments},
        }
        for index, call in enumerate(reply.tool_calls)
    ]


def _completion(reply: Reply, request: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.reasoning is not None:
        message["reasoning_content"] = reply.reasoning
    if reply.tool_calls:
        message["tool_calls"] = _tool_calls(reply)
    completion: dict[str, Any] = {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "model": request.get("model"),
        "choices": [{"index": 0, "message": message, "finish_reason": reply.finish()}]
        if reply.has_choices
        else [],
    }
    if reply.reports_usage:
        completion["usage"] = reply.usage_body()
    return completion


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _chunks(reply: Reply, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-scripted",
            "object": "chat.completion.chunk",
            "model": request.get("model"),
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    if not reply.has_choices:
        yield {"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "choices": []}
        return
    yield chunk({"role": "assistant", "content": ""})
    for piece in _pieces(reply.reasoning or "", reply.chunk_size) if reply.reasoning else ():
        yield chunk({"reasoning_content": piece})
    for piece in _pieces(reply.content or "", reply.chunk_size) if reply.content else ():
        yield chunk({"content": piece})
    for index, call in enumerate(_tool_calls(reply)):
        arguments = call["function"]["arguments"]
        half = len(arguments) // 2
        yield chunk(
            {
                "tool_calls": [
                    {
                        "index": index,
                        "id": call["id"],
                        "type": "function",
                        "function": {
                            "name": call["function"]["name"],
                            "arguments": arguments[:half],
                        },
                    }
                ]
            }
        )
        yield chunk({"tool_calls": [{"index": index, "function": {"arguments": arguments[half:]}}]})
    yield chunk({}, reply.finish() if reply.sends_finish else None)
    if reply.reports_usage and (request.get("stream_options") or {}).get("include_usage"):
        yield {
            "id": "chatcmpl-scripted",
            "object": "chat.completion.chunk",
            "choices": [],
            "usage": reply.usage_body(),
        }


@contextlib.contextmanager
def running_upstream() -> Iterator[ScriptedUpstream]:
    upstream = ScriptedUpstream()
    with serve_in_thread(upstream) as url:
        upstream.base_url = url + "/v1"
        yield upstream
