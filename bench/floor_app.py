"""The floor under any Python gateway built like ours: uvicorn (httptools, uvloop), the gateway's
own upstream client and orjson, and nothing else. A raw ASGI app that reads the body, makes one
chat-completions call and answers a completed Response with its text. ``bench/instructions.py
--gateway floor --only unstored`` counts it: what no Python gateway on this stack can go under.
"""

from __future__ import annotations

import os
from typing import Any

import orjson

from responses_gateway.upstream_http import Timeouts, UpstreamHttp

CHAT = orjson.dumps({"model": "bench", "messages": [{"role": "user", "content": "hello"}]})
HEADERS = [(b"content-type", b"application/json")]
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


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return await _lifespan(receive, send)
    request = await _body(receive)
    answer: dict[str, Any] = {}
    if scope["path"] != "/healthz":
        if not _client:
            timeouts = Timeouts(connect=10, sock_connect=10, read=600, total=1800)
            _client.append(UpstreamHttp(os.environ["FLOOR_UPSTREAM"], timeouts, 256, {}))
        reply = await _client[0].request("POST", "chat/completions", CHAT)
        chat = orjson.loads(await reply.read())
        reply.release()
        text = chat["choices"][0]["message"]["content"]
        part = {"type": "output_text", "text": text}
        answer = {
            "id": "resp_floor",
            "object": "response",
            "status": "completed",
            "model": orjson.loads(request)["model"],
            "output": [{"type": "message", "role": "assistant", "content": [part]}],
        }
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": orjson.dumps(answer)})
