"""``GET /v1/responses`` upgraded to a WebSocket: WebSocket mode (``client.responses.connect()``,
Codex with ``supports_websockets = true``). The key is checked on the handshake, so a wrong one
is an HTTP 401 with the usual error envelope and never an open socket; a draining process
answers 503, as it does to HTTP requests."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from responses_gateway.api.deps import authenticate, gateway
from responses_gateway.api.json import JSONBody
from responses_gateway.errors import Unauthorized
from responses_gateway.lifecycle import Lifecycle
from responses_gateway.transport.connection import serve, shutting_down

router = APIRouter(prefix="/v1")


@router.websocket("/responses")
async def responses_socket(websocket: WebSocket) -> None:
    try:
        owner = authenticate(websocket)
    except Unauthorized as exc:
        await websocket.send_denial_response(JSONBody(exc.envelope(), status_code=exc.status_code))
        return
    life: Lifecycle = websocket.app.state.lifecycle
    if life.draining:
        error = shutting_down()
        await websocket.send_denial_response(
            JSONBody(error.envelope(), status_code=503, headers={"retry-after": "1"})
        )
        return
    found = gateway(websocket)
    await websocket.accept()
    await serve(websocket, found.service, owner, found.websocket, life)
