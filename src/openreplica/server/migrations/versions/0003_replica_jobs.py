"""Replica training jobs: status, progress and errors survive a restart.

Revision ID: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "replica_jobs",
        sa.Column("replica_id", sa.String(128), primary_key=True),
        sa.Column("replica_name", sa.String(512), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("progress", sa.Integer, nullable=False),
        sa.Column("error_message", sa.Text, nullable=True),
        sa.Column("callback_url", sa.Text, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("node_id", sa.String(128), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
    )
    op.create_index("ix_replica_jobs_status", "replica_jobs", ["status"])


def downgrade() -> None:
    op.drop_index("ix_replica_jobs_status", table_name="replica_jobs")
    op.drop_table("replica_jobs")
