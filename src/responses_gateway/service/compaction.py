"""``POST /v1/responses/compact``: one upstream call, the conversation as the model would see it
(the caller's ``instructions`` first) and then ``SUMMARY_PROMPT``; the answer's text is the
summary, sealed into one ``compaction`` item (``service.compaction_items``).
"""

from __future__ import annotations

import re
import time
from typing import Any

from responses_gateway.chat.messages import to_chat_messages
from responses_gateway.chat.reply import usage_from_chat
from responses_gateway.errors import UpstreamError
from responses_gateway.ids import new_id
from responses_gateway.schemas.compaction import CompactRequest
from responses_gateway.schemas.request import CreateResponseRequest
from responses_gateway.sealing import Sealer
from responses_gateway.service.compaction_items import (
    open_compactions,
    public_item,
    seal_summary,
)
from responses_gateway.service.context import input_items
from responses_gateway.service.history import EMPTY_HISTORY
from responses_gateway.service.responses_service import ResponsesService
from responses_gateway.upstream import UpstreamClient

SUMMARY_PROMPT = """\
Stop the conversation here and write a summary of it that will replace the conversation \
above: after this, you will see only your summary and the messages that come after it, so \
anything you leave out is lost.

Write it as notes to yourself, in the conversation's language, under these headings:
1. Goal: what the user wants overall, and any constraints or preferences they stated.
2. Facts: names, numbers, decisions, agreements, file paths, identifiers, URLs, exactly as given.
3. Done: what has been done so far, including tool calls and what they returned.
4. Open: questions not yet answered, work not yet finished, and what was about to happen next.

Be complete but brief: keep every fact the rest of the conversation may need, drop pleasantries \
and repetition. Do not answer or continue the conversation; write only the summary."""

_THINK = re.compile(r"^\s*<think>.*?</think>\s*", re.DOTALL)


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
        messages.append({"role": "user", "content": SUMMARY_PROMPT})
        completion = await self._upstream.complete({"model": body.model, "messages": messages})
        summary = _summary_text(completion)
        users = [
            {**item, "status": item.get("status", "completed")}  # output items have a status
            for item in [*history.items, *items]
            if item.get("type") == "message" and item.get("role") == "user"
        ]
        usage = usage_from_chat(completion.get("usage"))
        return {
            "id": new_id("resp"),
            "object": "response.compaction",
            "created_at": int(time.time()),
            "output": [*users, public_item(seal_summary(self._sealer, summary, body.model))],
            "usage": {
                "input_tokens": usage["input_tokens"],
                "input_tokens_details": {"cached_tokens": usage["cached_tokens"]},
                "output_tokens": usage["output_tokens"],
                "output_tokens_details": {"reasoning_tokens": usage["reasoning_tokens"]},
                "total_tokens": usage["input_tokens"] + usage["output_tokens"],
            },
        }


def _summary_text(completion: dict[str, Any]) -> str:
    choices = completion.get("choices") or []
    message = (choices[0].get("message") or {}) if choices else {}
    text = _THINK.sub("", message.get("content") or "").strip()
    if not text:
        raise UpstreamError("The model returned an empty summary.", code="empty_summary")
    return text
