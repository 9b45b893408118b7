"""``/v1/responses`` and its sub-resources."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from responses_gateway.api.deps import authenticate, gateway
from responses_gateway.api.json import JSONBody, parse_body
from responses_gateway.schemas.request import CreateResponseRequest
from responses_gateway.sse import EventSink, EventStreamResponse

router = APIRouter(prefix="/v1")


@router.post("/responses", response_model=None)
async def create_response(request: Request) -> Response:
    """Create a response, as JSON or as an event stream."""
    owner = authenticate(request)
    body = await parse_body(request, CreateResponseRequest)
    service = gateway(request).service
    if body.background:
        return await _create_background(request, body, owner)
    if not body.stream:
        return JSONBody(await service.create(body, owner))
    prepared = await service.prepare(body, owner)

    async def produce(emit: EventSink) -> None:
        await service.produce(prepared, owner, emit)

    return EventStreamResponse(produce)


async def _create_background(request: Request, body: CreateResponseRequest, owner: str) -> Response:
    """Queued at once; a stream reads the job's event log from its start (``response.created``
    and ``response.queued``), and the run goes on when it is closed."""
    background = gateway(request).background
    queued = await background.create(body, owner)
    if not body.stream:
        return JSONBody(queued)

    async def follow(emit: EventSink) -> None:
        await background.follow(owner, queued["id"], -1, emit)

    return EventStreamResponse(follow)


@router.get("/responses/{response_id}", response_model=None)
async def retrieve_response(
    request: Request,
    response_id: str,
    stream: bool = False,
    starting_after: Annotated[int, Query(ge=-1)] = -1,
    include: Annotated[list[str] | None, Query(alias="include[]")] = None,
) -> Response:
    """Retrieve a stored response; ``stream=true`` replays a background response's events after
    ``starting_after`` and follows it to its end."""
    owner = authenticate(request)
    background = gateway(request).background
    if not stream:
        return JSONBody(await background.retrieve(owner, response_id))
    await background.check_resumable(owner, response_id)

    async def follow(emit: EventSink) -> None:
        await background.follow(owner, response_id, starting_after, emit)

    return EventStreamResponse(follow, first_sequence=starting_after + 1)


@router.delete("/responses/{response_id}", response_model=None)
async def delete_response(request: Request, response_id: str) -> Response:
    """Delete a stored response."""
    owner = authenticate(request)
    return JSONBody(await gateway(request).service.delete(owner, response_id))


@router.post("/responses/{response_id}/cancel", response_model=None)
async def cancel_response(request: Request, response_id: str) -> Response:
    """Cancel a background response (on any replica); 400 for any other response."""
    owner = authenticate(request)
    return JSONBody(await gateway(request).background.cancel(owner, response_id))


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
