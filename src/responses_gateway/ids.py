"""Identifiers in OpenAI's shapes (``resp_…``, ``msg_…``, ``fc_…``, ``rs_…``, ``mcp_…``, ``mcpl_…``)."""

from __future__ import annotations

import os


def new_id(prefix: str) -> str:
    # 24 random bytes as hex: the same length OpenAI uses after the prefix, unguessable.
    return f"{prefix}_{os.urandom(24).hex()}"
