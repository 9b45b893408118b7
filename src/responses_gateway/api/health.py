"""Liveness (``/healthz``) and readiness (``/readyz``: the database answers)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from responses_gateway.api.deps import gateway
from responses_gateway.api.json import JSONBody
from responses_gateway.errors import GatewayError

router = APIRouter()


@router.get("/healthz")
async def healthz() -> Response:
    """The process is up."""
    return JSONBody({"status": "ok"})


@router.get("/readyz")
async def readyz(request: Request) -> Response:
    """The database is reachable and the process is not draining for a restart."""
    if request.app.state.lifecycle.draining:
        raise GatewayError("The server is shutting down.", code="shutting_down", status_code=503)
    try:
        await gateway(request).service.ping()
    except Exception as exc:
        raise GatewayError(
            "The database is not reachable.", code="not_ready", status_code=503
        ) from exc
    return JSONBody({"status": "ready"})
