"""``/v1/models`` and ``/v1/chat/completions``, passed to the upstream as they are (streams too)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from responses_gateway.api.deps import authenticate, gateway

router = APIRouter(prefix="/v1")


async def _relay(request: Request, method: str, path: str) -> StreamingResponse:
    authenticate(request)
    body = await request.body() if method == "POST" else None
    relayed = await gateway(request).upstream.relay(method, path, body)
    return StreamingResponse(relayed.body, status_code=relayed.status, headers=relayed.headers)


@router.get("/models")
async def list_models(request: Request) -> StreamingResponse:
    """The upstream's model list."""
    return await _relay(request, "GET", "models")


@router.post("/chat/completions")
async def chat_completions(request: Request) -> StreamingResponse:
    """A chat completion, straight through to the upstream."""
    return await _relay(request, "POST", "chat/completions")
