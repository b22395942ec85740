"""Cluster takeover: a live conversation's LLM context and history as of an event,
saved at turn boundaries (`conversation_states`).

Revision ID: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_states",
        sa.Column("conversation_id", sa.String(64), primary_key=True),
        sa.Column("last_seq", sa.Integer, nullable=False),
        sa.Column("turn_idx", sa.Integer, nullable=False),
        sa.Column("context", sa.Text, nullable=False),
        sa.Column("history", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("conversation_states")
