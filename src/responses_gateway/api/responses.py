"""``/v1/responses`` and its sub-resources."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from responses_gateway.api.deps import authenticate, gateway
from responses_gateway.api.json import JSONBody, parse_body
from responses_gateway.errors import InvalidRequest
from responses_gateway.schemas.request import CreateResponseRequest
from responses_gateway.sse import EventSink, EventStreamResponse

router = APIRouter(prefix="/v1")


@router.post("/responses", response_model=None)
async def create_response(request: Request) -> Any:
    """Create a response, as JSON or as an event stream."""
    owner = authenticate(request)
    body = await parse_body(request, CreateResponseRequest)
    service = gateway(request).service
    if not body.stream:
        return JSONBody(await service.create(body, owner))
    prepared = await service.prepare(body, owner)

    async def produce(emit: EventSink) -> None:
        await service.produce(prepared, owner, emit)

    return EventStreamResponse(produce)


@router.get("/responses/{response_id}", response_model=None)
async def retrieve_response(
    request: Request,
    response_id: str,
    stream: bool = False,
    include: Annotated[list[str] | None, Query(alias="include[]")] = None,
) -> Response:
    """Retrieve a stored response."""
    owner = authenticate(request)
    if stream:
        raise InvalidRequest(
            "Replaying a stored response as a stream is not supported.", param="stream"
        )
    return JSONBody(await gateway(request).service.get(owner, response_id))


@router.delete("/responses/{response_id}", response_model=None)
async def delete_response(request: Request, response_id: str) -> Response:
    """Delete a stored response."""
    owner = authenticate(request)
    return JSONBody(await gateway(request).service.delete(owner, response_id))


@router.post("/responses/{response_id}/cancel", response_model=None)
async def cancel_response(request: Request, response_id: str) -> Response:
    """Only background responses can be cancelled, and this gateway runs none: every response
    it knows has already finished (404 for one it does not)."""
    owner = authenticate(request)
    await gateway(request).service.get(owner, response_id)
    raise InvalidRequest(
        "Only responses created with background=true can be cancelled; this response has "
        "already finished.",
        param="response_id",
        code="response_not_cancellable",
    )


@router.get("/responses/{response_id}/input_items", response_model=None)
async def list_input_items(
    request: Request,
    response_id: str,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Literal["asc", "desc"] = "desc",
    include: Annotated[list[str] | None, Query(alias="include[]")] = None,
) -> Response:
    """List the input items of a stored response."""
    owner = authenticate(request)
    page = await gateway(request).service.input_items(
        owner, response_id, after=after, limit=limit, order=order
    )
    return JSONBody(page)
