"""responses and their items

Revision ID: 0001
Revises:
Create Date: 2026-11-23 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "responses",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("previous_response_id", sa.String(64), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_responses"),
    )
    op.create_index("ix_responses_previous_response_id", "responses", ["previous_response_id"])
    op.create_table(
        "response_items",
        sa.Column("response_id", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["responses.id"],
            name="fk_response_items_response_id_responses",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("response_id", "position", name="pk_response_items"),
    )
    op.create_index("ix_response_items_item_id", "response_items", ["item_id"])


def downgrade() -> None:
    op.drop_index("ix_response_items_item_id", table_name="response_items")
    op.drop_table("response_items")
    op.drop_index("ix_responses_previous_response_id", table_name="responses")
    op.drop_table("responses")
