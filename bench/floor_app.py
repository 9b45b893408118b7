"""The floor under any Python gateway built like ours: uvicorn (httptools, uvloop), the gateway's
own upstream client and orjson, and nothing else. A raw ASGI app that reads the body, makes one
chat-completions call and answers a completed Response with its text; with ``"stream": true`` it
streams the call and sends each content chunk on as an ``output_text.delta`` event, then
``response.completed``. ``bench/instructions.py --gateway floor --only unstored`` counts it, and
``bench/floor_race.py`` races it against agentic-api: what no Python gateway on this stack can go
under.
"""

from __future__ import annotations

import os
from typing import Any

import orjson

from responses_gateway.upstream_http import Timeouts, UpstreamHttp

CHAT = orjson.dumps({"model": "bench", "messages": [{"role": "user", "content": "hello"}]})
HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [(b"content-type", b"text/event-stream")]
_client: list[UpstreamHttp] = []


async def _lifespan(receive: Any, send: Any) -> None:
    while (await receive())["type"] == "lifespan.startup":
        await send({"type": "lifespan.startup.complete"})
    await send({"type": "lifespan.shutdown.complete"})


async def _body(receive: Any) -> bytes:
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return body


def _upstream() -> UpstreamHttp:
    if not _client:
        timeouts = Timeouts(connect=10, sock_connect=10, read=600, total=1800)
        _client.append(UpstreamHttp(os.environ["FLOOR_UPSTREAM"], timeouts, 256, {}))
    return _client[0]


async def _stream(send: Any, model: str) -> None:
    """Each content chunk on as a delta event, written as it arrives."""
    chat = {"model": model, "messages": [{"role": "user", "content": "hello"}], "stream": True}
    reply = await _upstream().request("POST", "chat/completions", orjson.dumps(chat))
    await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
    rest = b""
    while data := await reply.next_chunk():
        *lines, rest = (rest + data).split(b"\n")
        events = []
        for line in lines:
            if line.startswith(b"data: {"):
                delta = orjson.loads(line[6:])["choices"][0]["delta"].get("content")
                if delta:
                    event = {"type": "response.output_text.delta", "delta": delta}
                    events.append(
                        b"event: response.output_text.delta\ndata: %b\n\n" % orjson.dumps(event)
                    )
        if events:
            await send({"type": "http.response.body", "body": b"".join(events), "more_body": True})
    reply.release()
    done = b'event: response.completed\ndata: {"type":"response.completed"}\n\ndata: [DONE]\n\n'
    await send({"type": "http.response.body", "body": done})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return await _lifespan(receive, send)
    request = await _body(receive)
    answer: dict[str, Any] = {}
    if scope["path"] != "/healthz":
        body = orjson.loads(request)
        if body.get("stream"):
            return await _stream(send, body["model"])
        reply = await _upstream().request("POST", "chat/completions", CHAT)
        chat = orjson.loads(await reply.read())
        reply.release()
        text = chat["choices"][0]["message"]["content"]
        part = {"type": "output_text", "text": text}
        answer = {
            "id": "resp_floor",
            "object": "response",
            "status": "completed",
            "model": body["model"],
            "output": [{"type": "message", "role": "assistant", "content": [part]}],
        }
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": orjson.dumps(answer)})
