"""A response in a conversation: the conversation's items as its history, and its own input and
output appended when it is stored (in the statement that stores it).

Histories are cached like chains (``HistoryCache``), under the conversation id and the version
they were read at: a turn reads the conversation's version (one indexed lookup, which also says
that it exists and is the caller's) and uses the cached history when the version matches, so
turn 200 neither re-reads nor re-converts 400 items. Items added or deleted through the items
API, or a response saved through another replica, change the version, and the history is read
again (one query). The response that saves version v+1 over a cached v caches its own result.

``store: false`` with a conversation reads the conversation and appends nothing, as OpenAI does:
nothing of that response is kept.
"""

from __future__ import annotations

from typing import Any

from responses_gateway.errors import InvalidRequest
from responses_gateway.schemas.request import CreateResponseRequest
from responses_gateway.sealing import Sealer
from responses_gateway.service.compaction_items import open_compactions
from responses_gateway.service.conversations import conversation_not_found
from responses_gateway.service.history import History, HistoryCache
from responses_gateway.store.conversations import ConversationStore


def conversation_id_of(request: CreateResponseRequest) -> str | None:
    """``conversation`` as an id (``"conv_…"`` or ``{"id": "conv_…"}``); refused with
    ``previous_response_id``, which names a history of its own."""
    value = request.conversation
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("id")
    if not isinstance(value, str) or not value:
        raise InvalidRequest(
            "Invalid value for 'conversation': expected a conversation id or {\"id\": …}.",
            param="conversation",
            code="invalid_value",
        )
    if request.previous_response_id is not None:
        raise InvalidRequest(
            "Parameters 'conversation' and 'previous_response_id' cannot be used together.",
            param="conversation",
            code="invalid_value",
        )
    return value


def _key(conversation_id: str, version: int) -> str:
    return f"{conversation_id}@{version}"


class ConversationTurns:
    def __init__(self, store: ConversationStore, cache: HistoryCache, sealer: Sealer) -> None:
        self._store = store
        self._cache = cache
        self._sealer = sealer

    async def history(self, owner: str, conversation_id: str) -> tuple[History, int]:
        """The conversation's items as a history, and the version they are of."""
        version = await self._store.version(owner, conversation_id)
        if version is None:
            raise conversation_not_found(conversation_id, param="conversation")
        cached = self._cache.get(owner, _key(conversation_id, version))
        if cached is not None:
            return cached, version
        found = await self._store.items(owner, conversation_id)
        if found is None:
            raise conversation_not_found(conversation_id, param="conversation")
        history = History.of(found.turns, found.size)
        open_compactions(history.items, self._sealer, param="conversation")
        self._cache.put(owner, _key(conversation_id, found.version), history)
        return history, found.version

    async def save(
        self,
        owner: str,
        conversation_id: str,
        response: dict[str, Any],
        input_items: list[dict[str, Any]],
        output: list[dict[str, Any]],
        history: History,
        version: int,
    ) -> None:
        """Store the response and append its items to the conversation, in one transaction."""
        saved = await self._store.save_response(owner, conversation_id, response, input_items)
        if saved is None:
            raise conversation_not_found(conversation_id, param="conversation")
        new_version, size = saved
        self._cache.discard(owner, _key(conversation_id, version))
        if new_version == version + 1:  # nothing else changed it since this turn read it
            turn = [*input_items, *output]  # the response's own items: compactions opened
            self._cache.put(owner, _key(conversation_id, new_version), history.extended(turn, size))
