"""Past reasoning: what the model sees again of a ``reasoning`` item, and the sealed blob that
carries it when a client keeps the conversation itself (``include: reasoning.encrypted_content``).

A blob holds ``{"text": <the reasoning text>}`` sealed by ``Sealer`` for the purpose
``"reasoning"``. On input, a blob this gateway sealed is opened and its text replayed; one it cannot
open (another provider's, or a retired key's) drops the item from what the model sees, whatever
else the item carries, since that reasoning was not this model's. An item without a blob is
replayed from its raw ``content`` (``reasoning_text``), never from ``summary`` alone: a summary
is a description of reasoning, and feeding it back as the model's own would misstate it.
"""

from __future__ import annotations

from typing import Any

from responses_gateway.sealing import Sealer

PURPOSE = "reasoning"


class ReasoningReplay:
    """Reads reasoning items for the chat history and seals new ones (one per process); without
    a sealer, blobs are never opened."""

    __slots__ = ("_sealer",)

    def __init__(self, sealer: Sealer | None) -> None:
        self._sealer = sealer

    def text_of(self, item: dict[str, Any]) -> str:
        """The reasoning to replay, ``""`` for none."""
        blob = item.get("encrypted_content")
        if blob:
            payload = self._sealer.open(PURPOSE, blob) if self._sealer is not None else None
            text = payload.get("text") if payload is not None else None
            return text if isinstance(text, str) else ""
        parts = item.get("content") or ()
        return "".join(part.get("text") or "" for part in parts if part["type"] == "reasoning_text")

    def seal(self, text: str) -> str:
        assert self._sealer is not None, "sealing needs a sealer"
        return self._sealer.seal(PURPOSE, {"text": text})


NO_REPLAY = ReasoningReplay(None)
