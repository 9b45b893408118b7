"""``POST /v1/responses/compact`` (a router of its own, included before ``/responses/{id}``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from responses_gateway.api.deps import authenticate, gateway
from responses_gateway.api.json import JSONBody, parse_body
from responses_gateway.schemas.compaction import CompactRequest

router = APIRouter(prefix="/v1")


@router.post("/responses/compact", response_model=None)
async def compact_response(request: Request) -> Response:
    """Summarize a conversation into one sealed ``compaction`` item."""
    owner = authenticate(request)
    body = await parse_body(request, CompactRequest)
    return JSONBody(await gateway(request).compaction.compact(owner, body))
