"""The schema: one row per response, one row per item; nothing is copied from turn to turn.

Items are stored once, under the response whose input or output they were, so a chain of N turns
costs O(N) rows, and its whole history is one recursive query (``ResponseStore.history``).
JSON is kept as text encoded with orjson: the same on SQLite and PostgreSQL, and fast.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

responses = Table(
    "responses",
    metadata,
    Column("id", String(64), primary_key=True),
    # A hash of the API key that created the response ("" when auth is off): never the key itself.
    Column("owner", String(64), nullable=False),
    Column("previous_response_id", String(64), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("model", String(256), nullable=False),
    # Deleted responses stay as tombstones so that their descendants' history stays whole.
    Column("deleted", Boolean, nullable=False, default=False),
    Column("data", Text, nullable=False),  # the Response object without "output"
    # Its items hold a compaction: the history query stops here (nothing before it is sent).
    Column("compacted", Boolean, nullable=False, server_default=false()),
)
Index("ix_responses_previous_response_id", responses.c.previous_response_id)

response_items = Table(
    "response_items",
    metadata,
    Column(
        "response_id",
        String(64),
        ForeignKey("responses.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("position", Integer, primary_key=True),
    Column("kind", String(8), nullable=False),  # "input" or "output"
    Column("item_id", String(64), nullable=False),
    Column("data", Text, nullable=False),
)
Index("ix_response_items_item_id", response_items.c.item_id)

# A conversation's items are rows of their own, in order. An item a response stored is referenced
# by (response_id, response_position), never copied; an item added through the items API holds
# its own ``data``. ``next_position`` hands out positions and ``version`` counts every change, so
# a cached history is confirmed by one lookup; the UPDATE that bumps them also serialises
# concurrent appends to one conversation (its row lock), so racing responses both land, in order.
conversations = Table(
    "conversations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("metadata", Text, nullable=False),
    Column("next_position", Integer, nullable=False),
    Column("version", Integer, nullable=False),
)

conversation_items = Table(
    "conversation_items",
    metadata,
    Column(
        "conversation_id",
        String(64),
        ForeignKey("conversations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("position", Integer, primary_key=True),
    Column("item_id", String(64), nullable=False),
    Column("response_id", String(64), nullable=True),
    Column("response_position", Integer, nullable=True),
    Column("data", Text, nullable=True),
)
Index(
    "ix_conversation_items_conversation_id",
    conversation_items.c.conversation_id,
    conversation_items.c.item_id,
)

# Background responses (``store/jobs.py``): one row per job while it runs and for
# GATEWAY_BACKGROUND_EVENT_RETENTION seconds after, with its event log beside it.
background_jobs = Table(
    "background_jobs",
    metadata,
    Column(
        "response_id",
        String(64),
        ForeignKey("responses.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("owner", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    # The request to run, without secrets; NULL when it holds any (MCP tools): only the replica
    # named in lease_owner has it, in memory.
    Column("request", Text, nullable=True),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", BigInteger, nullable=True),  # milliseconds since the epoch
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("emitted", Integer, nullable=False, default=0),  # the newest logged sequence_number
    Column("progress", Text, nullable=True),  # the Response so far, while it runs
    Column("created_at", BigInteger, nullable=False),  # milliseconds
    Column("finished_at", BigInteger, nullable=True),  # milliseconds
)
Index("ix_background_jobs_status", background_jobs.c.status)

# One row per batch of events, not per event: a row costs more to write than its events cost to
# join (measured: ~10 µs of CPU per event as rows of their own).
background_events = Table(
    "background_events",
    metadata,
    Column(
        "response_id",
        String(64),
        ForeignKey("background_jobs.response_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("sequence_number", Integer, primary_key=True),  # the batch's first event
    Column("last_sequence_number", Integer, nullable=False),
    Column("data", Text, nullable=False),  # the events' JSON, one a line
)
