"""Opening ``compaction`` items: the ones clients hand back, and the ones a stored history holds.

``encrypted_content`` is the summary (with the model and the time) sealed with the gateway's key
(``sealing.Sealer``, purpose ``"compaction"``): a client can hand it back but neither read nor
forge it. An opened item keeps its summary beside the blob (``summary``) in the gateway's
memory only: the store and every answer drop it (``compaction_step.public_item``), so stored
histories are opened again when read from the database.
"""

from __future__ import annotations

from typing import Any

from responses_gateway.errors import InvalidRequest
from responses_gateway.sealing import Sealer


def open_compactions(items: list[dict[str, Any]], sealer: Sealer, param: str | None = None) -> None:
    """Give every ``compaction`` item its summary, or refuse one the gateway did not seal
    (``param`` names where stored items came from; input items are named by position)."""
    for position, item in enumerate(items):
        if item.get("type") != "compaction" or "summary" in item:
            continue
        payload = sealer.open("compaction", item["encrypted_content"])
        if payload is None or not isinstance(payload.get("summary"), str):
            raise InvalidRequest(
                "This compaction item was not created by this gateway (or was sealed with a key "
                "it no longer has): its encrypted_content cannot be opened here.",
                param=param or f"input[{position}].encrypted_content",
                code="invalid_encrypted_content",
            )
        item["summary"] = payload["summary"]


def wants_compaction(items: list[dict[str, Any]]) -> bool:
    """Whether the input ends with a ``compaction_trigger`` (anywhere else it is a 400)."""
    for position, item in enumerate(items):
        if item.get("type") == "compaction_trigger" and position != len(items) - 1:
            raise InvalidRequest(
                "A compaction_trigger item must be the last input item.",
                param=f"input[{position}]",
            )
    return bool(items) and items[-1].get("type") == "compaction_trigger"
