"""``POST /v1/responses/input_tokens`` (included before ``/responses/{id}``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from responses_gateway.api.deps import authenticate, gateway
from responses_gateway.api.json import JSONBody, parse_body
from responses_gateway.schemas.input_tokens import InputTokensRequest

router = APIRouter(prefix="/v1")


@router.post("/responses/input_tokens", response_model=None)
async def count_input_tokens(request: Request) -> Response:
    """The prompt tokens the model would see for this create."""
    owner = authenticate(request)
    body = await parse_body(request, InputTokensRequest)
    return JSONBody(await gateway(request).input_tokens.count(owner, body))
