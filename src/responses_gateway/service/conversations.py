"""``ConversationsService``: the Conversations API (create, retrieve, update, delete, items).

What a response in a conversation needs (its history, and appending to it when it is saved)
is ``service.conversation_turns``.
"""

from __future__ import annotations

import time
from typing import Any

from responses_gateway.errors import InvalidRequest, NotFound
from responses_gateway.ids import new_id
from responses_gateway.schemas.conversations import (
    CreateConversationRequest,
    CreateItemsRequest,
)
from responses_gateway.service.context import normalise_item
from responses_gateway.store.conversations import ConversationStore


def conversation_not_found(conversation_id: str, param: str = "conversation_id") -> NotFound:
    return NotFound(f"Conversation with id '{conversation_id}' not found.", param=param)


def _item_not_found(item_id: str) -> NotFound:
    return NotFound(f"Item with id '{item_id}' not found.", param="item_id")


def _items(body_items: list[Any], param: str) -> list[dict[str, Any]]:
    """Normalised items (ids given); a reference has nothing to copy here, so it is refused."""
    items = []
    for position, item in enumerate(body_items):
        if item["type"] == "item_reference":
            raise InvalidRequest(
                "item_reference items cannot be added to a conversation; send the item itself.",
                param=f"{param}[{position}]",
            )
        items.append(normalise_item(item))
    return items


def item_list(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }


class ConversationsService:
    def __init__(self, store: ConversationStore) -> None:
        self._store = store

    async def create(self, owner: str, body: CreateConversationRequest) -> dict[str, Any]:
        items = _items(body.items or [], "items")
        conversation = {
            "id": new_id("conv"),
            "object": "conversation",
            "created_at": int(time.time()),
            "metadata": body.metadata or {},
        }
        await self._store.create(owner, conversation, items)
        return conversation

    async def get(self, owner: str, conversation_id: str) -> dict[str, Any]:
        found = await self._store.get(owner, conversation_id)
        if found is None:
            raise conversation_not_found(conversation_id)
        return found

    async def update(
        self, owner: str, conversation_id: str, metadata: dict[str, str]
    ) -> dict[str, Any]:
        if not await self._store.set_metadata(owner, conversation_id, metadata):
            raise conversation_not_found(conversation_id)
        return await self.get(owner, conversation_id)

    async def delete(self, owner: str, conversation_id: str) -> dict[str, Any]:
        if not await self._store.delete(owner, conversation_id):
            raise conversation_not_found(conversation_id)
        return {"id": conversation_id, "object": "conversation.deleted", "deleted": True}

    async def add_items(
        self, owner: str, conversation_id: str, body: CreateItemsRequest
    ) -> dict[str, Any]:
        items = _items(body.items, "items")
        if await self._store.append(owner, conversation_id, items) is None:
            raise conversation_not_found(conversation_id)
        return item_list(items, False)

    async def list_items(
        self, owner: str, conversation_id: str, *, after: str | None, limit: int, order: str
    ) -> dict[str, Any]:
        page = await self._store.page(owner, conversation_id, after=after, limit=limit, order=order)
        if page is None:
            raise conversation_not_found(conversation_id)
        return item_list(*page)

    async def get_item(self, owner: str, conversation_id: str, item_id: str) -> dict[str, Any]:
        found = await self._store.item(owner, conversation_id, item_id)
        if found is False:
            raise conversation_not_found(conversation_id)
        if not isinstance(found, dict):
            raise _item_not_found(item_id)
        return found

    async def delete_item(self, owner: str, conversation_id: str, item_id: str) -> dict[str, Any]:
        """OpenAI answers with the conversation the item was removed from."""
        deleted = await self._store.delete_item(owner, conversation_id, item_id)
        conversation = await self.get(owner, conversation_id)
        if not deleted:
            raise _item_not_found(item_id)
        return conversation
