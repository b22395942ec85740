"""The schema as it was before migrations: personas, conversations, events, replicas and
webhook deliveries (what `create_all` made until then).

Revision ID: 0001
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
        "personas",
        sa.Column("persona_id", sa.String(64), primary_key=True),
        sa.Column("persona_name", sa.String(512), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("document", sa.JSON, nullable=False),
    )
    op.create_index("ix_personas_created_at", "personas", ["created_at"])
    op.create_table(
        "conversations",
        sa.Column("conversation_id", sa.String(64), primary_key=True),
        sa.Column("conversation_name", sa.String(512), nullable=True),
        sa.Column("persona_id", sa.String(64), nullable=True),
        sa.Column("replica_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("callback_url", sa.Text, nullable=True),
        sa.Column("require_auth", sa.Boolean, nullable=False),
        sa.Column("meeting_token", sa.String(128), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("ended_at", sa.Float, nullable=True),
        sa.Column("shutdown_reason", sa.String(256), nullable=True),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("persona", sa.JSON, nullable=False),
    )
    op.create_index("ix_conversations_created_at", "conversations", ["created_at"])
    op.create_index("ix_conversations_status_created", "conversations", ["status", "created_at"])
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("timestamp", sa.Float, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.UniqueConstraint("conversation_id", "seq", name="uq_events_conv_seq"),
    )
    op.create_table(
        "replicas",
        sa.Column("replica_id", sa.String(128), primary_key=True),
        sa.Column("replica_name", sa.String(512), nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("webhook_id", sa.String(64), nullable=False, unique=True),
        sa.Column("conversation_id", sa.String(64), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_index(
        "ix_webhook_deliveries_pending", "webhook_deliveries", ["status", "conversation_id"]
    )


def downgrade() -> None:
    for table in ("webhook_deliveries", "replicas", "events", "conversations", "personas"):
        op.drop_table(table)
