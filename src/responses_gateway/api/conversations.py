"""``/v1/conversations`` and its items."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from responses_gateway.api.deps import authenticate, gateway
from responses_gateway.api.json import JSONBody, parse_body
from responses_gateway.schemas.conversations import (
    CreateConversationRequest,
    CreateItemsRequest,
    UpdateConversationRequest,
)

router = APIRouter(prefix="/v1")

# ``include[]`` is accepted on every items route: every value OpenAI lists adds data the gateway
# already returns or does not have (hosted tools' results), so none changes the answer.
Include = Annotated[list[str] | None, Query(alias="include[]")]


@router.post("/conversations", response_model=None)
async def create_conversation(request: Request) -> Response:
    owner = authenticate(request)
    body = await parse_body(request, CreateConversationRequest)
    return JSONBody(await gateway(request).conversations.create(owner, body))


@router.get("/conversations/{conversation_id}", response_model=None)
async def retrieve_conversation(request: Request, conversation_id: str) -> Response:
    owner = authenticate(request)
    return JSONBody(await gateway(request).conversations.get(owner, conversation_id))


@router.post("/conversations/{conversation_id}", response_model=None)
async def update_conversation(request: Request, conversation_id: str) -> Response:
    owner = authenticate(request)
    body = await parse_body(request, UpdateConversationRequest)
    service = gateway(request).conversations
    return JSONBody(await service.update(owner, conversation_id, body.metadata))


@router.delete("/conversations/{conversation_id}", response_model=None)
async def delete_conversation(request: Request, conversation_id: str) -> Response:
    owner = authenticate(request)
    return JSONBody(await gateway(request).conversations.delete(owner, conversation_id))


@router.post("/conversations/{conversation_id}/items", response_model=None)
async def create_items(request: Request, conversation_id: str, include: Include = None) -> Response:
    owner = authenticate(request)
    body = await parse_body(request, CreateItemsRequest)
    return JSONBody(await gateway(request).conversations.add_items(owner, conversation_id, body))


@router.get("/conversations/{conversation_id}/items", response_model=None)
async def list_items(
    request: Request,
    conversation_id: str,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Literal["asc", "desc"] = "desc",
    include: Include = None,
) -> Response:
    owner = authenticate(request)
    page = await gateway(request).conversations.list_items(
        owner, conversation_id, after=after, limit=limit, order=order
    )
    return JSONBody(page)


@router.get("/conversations/{conversation_id}/items/{item_id}", response_model=None)
async def retrieve_item(
    request: Request, conversation_id: str, item_id: str, include: Include = None
) -> Response:
    owner = authenticate(request)
    service = gateway(request).conversations
    return JSONBody(await service.get_item(owner, conversation_id, item_id))


@router.delete("/conversations/{conversation_id}/items/{item_id}", response_model=None)
async def delete_item(request: Request, conversation_id: str, item_id: str) -> Response:
    owner = authenticate(request)
    service = gateway(request).conversations
    return JSONBody(await service.delete_item(owner, conversation_id, item_id))
