"""``compaction`` items: sealing a summary into one, and opening the ones clients hand back.

``encrypted_content`` is the summary (with the model and the time) sealed with the gateway's key
(``sealing.Sealer``, purpose ``"compaction"``): a client can hand it back but neither read nor
forge it. Opened items keep their summary beside the blob (``summary``) inside the gateway and
its store, so a stored chain's compaction converts without opening it again.
"""

from __future__ import annotations

import time
from typing import Any

from responses_gateway.errors import InvalidRequest
from responses_gateway.ids import new_id
from responses_gateway.sealing import Sealer


def open_compactions(items: list[dict[str, Any]], sealer: Sealer) -> None:
    """Give every ``compaction`` input item its summary, or refuse one the gateway did not seal."""
    for position, item in enumerate(items):
        if item.get("type") != "compaction":
            continue
        payload = sealer.open("compaction", item["encrypted_content"])
        if payload is None or not isinstance(payload.get("summary"), str):
            raise InvalidRequest(
                "This compaction item was not created by this gateway (or was sealed with a key "
                "it no longer has): its encrypted_content cannot be opened here.",
                param=f"input[{position}].encrypted_content",
                code="invalid_encrypted_content",
            )
        item["summary"] = payload["summary"]


def public_item(item: dict[str, Any]) -> dict[str, Any]:
    """A compaction item as clients see it: the sealed blob, never the summary in clear."""
    return {key: value for key, value in item.items() if key != "summary"}


def seal_summary(sealer: Sealer, summary: str, model: str) -> dict[str, Any]:
    """A new compaction item (with its summary kept beside the blob, for the gateway)."""
    payload = {"summary": summary, "model": model, "created_at": int(time.time())}
    return {
        "id": new_id("cmp"),
        "type": "compaction",
        "encrypted_content": sealer.seal("compaction", payload),
        "summary": summary,
    }
