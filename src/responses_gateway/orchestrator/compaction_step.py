"""Compaction inside a response (``compaction_trigger``, ``context_management``) and the one
summarizing call it shares with ``POST /v1/responses/compact``.

The summarizing call sends the conversation as the model would see it, then ``SUMMARY_PROMPT``
as the last user message; the answer's text (a leading ``<think>`` block removed) is the
summary, sealed into a ``compaction`` item. While streaming, the item is announced with
``response.output_item.added``, then ``response.compaction.compacting`` while the summary is
sampled, then ``response.output_item.done``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, Protocol

from responses_gateway import events
from responses_gateway.chat.reply import usage_from_chat
from responses_gateway.errors import UpstreamError
from responses_gateway.ids import new_id
from responses_gateway.orchestrator.state import ResponseState
from responses_gateway.sealing import Sealer

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

EventSink = Callable[[events.Event], None]

_THINK = re.compile(r"^\s*<think>.*?</think>\s*", re.DOTALL)


class Completer(Protocol):
    async def complete(self, payload: dict[str, Any]) -> dict[str, Any]: ...


async def summarize(
    upstream: Completer, model: str, messages: list[dict[str, Any]]
) -> tuple[str, dict[str, int] | None]:
    """One upstream call: the summary of ``messages`` and the call's usage (None when the
    backend reported none)."""
    prompt = [*messages, {"role": "user", "content": SUMMARY_PROMPT}]
    completion = await upstream.complete({"model": model, "messages": prompt})
    choices = completion.get("choices") or []
    message = (choices[0].get("message") or {}) if choices else {}
    text = _THINK.sub("", message.get("content") or "").strip()
    if not text:
        raise UpstreamError("The model returned an empty summary.", code="empty_summary")
    return text, usage_from_chat(completion.get("usage"))


def public_item(item: dict[str, Any]) -> dict[str, Any]:
    """A compaction item as clients see it: the sealed blob, never the summary in clear."""
    return {key: value for key, value in item.items() if key != "summary"}


def seal_summary(sealer: Sealer, summary: str, model: str, item_id: str) -> dict[str, Any]:
    """A compaction item; the summary stays beside the blob while in the gateway's memory."""
    payload = {"summary": summary, "model": model, "created_at": int(time.time())}
    return {
        "id": item_id,
        "type": "compaction",
        "encrypted_content": sealer.seal("compaction", payload),
        "summary": summary,
    }


class Compactor:
    """Compacts a response's context as its first output item."""

    def __init__(self, upstream: Completer, sealer: Sealer) -> None:
        self._upstream = upstream
        self._sealer = sealer

    async def run(
        self,
        model: str,
        messages: list[dict[str, Any]],
        state: ResponseState,
        emit: EventSink,
    ) -> None:
        item_id = new_id("cmp")
        placeholder = {"id": item_id, "type": "compaction", "encrypted_content": ""}
        index = len(state.output)
        emit(events.item_added(index, placeholder))
        emit(events.item_progress("compaction", "compacting", item_id, index))
        summary, usage = await summarize(self._upstream, model, messages)
        item = seal_summary(self._sealer, summary, model, item_id)
        state.add_item(item)
        state.finished.add(index)
        state.add_usage(usage)
        done = {"type": "response.output_item.done", "output_index": index}
        emit(done | {"item": public_item(item)})
