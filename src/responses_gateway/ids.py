"""Identifiers in OpenAI's shapes (``resp_…``, ``msg_…``, ``fc_…``, ``rs_…``, ``mcp_…``, ``mcpl_…``)."""

from __future__ import annotations

import os
import time


def new_id(prefix: str) -> str:
    """48 hex digits after the prefix, as OpenAI's: the creation second (8 digits), then 20
    random bytes. Like OpenAI's, ids sort by time, so the store's indexes grow at their right
    edge (hot pages) instead of at random places; 160 random bits keep them unguessable."""
    return f"{prefix}_{int(time.time()):08x}{os.urandom(20).hex()}"
