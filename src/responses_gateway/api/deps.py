"""What every route needs from the app: the service, the upstream, and the caller's identity."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

from responses_gateway.errors import Unauthorized
from responses_gateway.sealing import Sealer
from responses_gateway.service.responses_service import ResponsesService, owner_of
from responses_gateway.transport.connection import ConnectionLimits
from responses_gateway.upstream import UpstreamClient


@dataclass
class Gateway:
    """Held on ``app.state.gateway``: built once in the lifespan."""

    service: ResponsesService
    upstream: UpstreamClient
    api_keys: tuple[str, ...]
    sealer: Sealer
    websocket: ConnectionLimits = field(default_factory=ConnectionLimits)


def gateway(request: HTTPConnection) -> Gateway:
    found: Gateway = request.app.state.gateway
    return found


def authenticate(request: HTTPConnection) -> str:
    """The owner id of the caller's key; ``""`` when auth is off (HTTP and WebSocket handshakes)."""
    keys = gateway(request).api_keys
    if not keys:
        return ""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized(
            "Missing API key: send 'Authorization: Bearer <key>'.", code="invalid_api_key"
        )
    if not any(hmac.compare_digest(token.encode(), key.encode()) for key in keys):
        raise Unauthorized("Incorrect API key provided.", code="invalid_api_key")
    return owner_of(token)
