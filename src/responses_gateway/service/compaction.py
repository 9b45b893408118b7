"""``POST /v1/responses/compact``: one upstream call, the conversation as the model would see it
(the caller's ``instructions`` first) and then ``SUMMARY_PROMPT``; the answer's text is the
summary, sealed into one ``compaction`` item (``service.compaction_items``).
"""

from __future__ import annotations

import time
from typing import Any

from responses_gateway.chat.messages import to_chat_messages
from responses_gateway.ids import new_id
from responses_gateway.orchestrator.compaction_step import public_item, seal_summary, summarize
from responses_gateway.schemas.compaction import CompactRequest
from responses_gateway.schemas.request import CreateResponseRequest
from responses_gateway.sealing import Sealer
from responses_gateway.service.compaction_items import open_compactions
from responses_gateway.service.context import input_items
from responses_gateway.service.history import EMPTY_HISTORY
from responses_gateway.service.responses_service import ResponsesService
from responses_gateway.upstream import UpstreamClient


class CompactionService:
    def __init__(
        self, responses: ResponsesService, upstream: UpstreamClient, sealer: Sealer
    ) -> None:
        self._responses = responses
        self._upstream = upstream
        self._sealer = sealer

    async def compact(self, owner: str, body: CompactRequest) -> dict[str, Any]:
        history = EMPTY_HISTORY
        if body.previous_response_id is not None:
            history = await self._responses.history_of(owner, body.previous_response_id)
        request = CreateResponseRequest(
            model=body.model,
            input=body.input if body.input is not None else [],
            previous_response_id=body.previous_response_id,
        )

        async def no_references(_ids: list[str]) -> dict[str, dict[str, Any]]:
            return {}

        items = await input_items(request, history.items, no_references)
        open_compactions(items, self._sealer)
        messages = to_chat_messages(body.instructions, history.chat({}), items, {})
        summary, usage = await summarize(self._upstream, body.model, messages)
        compaction = seal_summary(self._sealer, summary, body.model, new_id("cmp"))
        users = [
            {**item, "status": item.get("status", "completed")}  # output items have a status
            for item in [*history.items, *items]
            if item.get("type") == "message" and item.get("role") == "user"
        ]
        return {
            "id": new_id("resp"),
            "object": "response.compaction",
            "created_at": int(time.time()),
            "output": [*users, public_item(compaction)],
            "usage": _usage(usage),
        }


def _usage(usage: dict[str, int] | None) -> dict[str, Any] | None:
    """OpenAI's usage object; None when the backend reported none (unknown, not zero)."""
    if usage is None:
        return None
    return {
        "input_tokens": usage["input_tokens"],
        "input_tokens_details": {"cached_tokens": usage["cached_tokens"]},
        "output_tokens": usage["output_tokens"],
        "output_tokens_details": {"reasoning_tokens": usage["reasoning_tokens"]},
        "total_tokens": usage["input_tokens"] + usage["output_tokens"],
    }
