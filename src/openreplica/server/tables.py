"""Database tables (SQLAlchemy 2): personas, conversations and their events, webhook
deliveries, and what the server keeps about replicas (names given through the API).

The schema is changed only through an Alembic migration (`server/migrations/versions`);
`tests/unit/server/test_schema.py` checks that the migrations build exactly these tables.

Times are Unix epoch seconds (float) from the server's clock. Documents a client sent
(a persona, a conversation's request) are kept whole as JSON so fields this version does
not know survive a round trip.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base",
    "ConversationRow",
    "ConversationStateRow",
    "EventRow",
    "PersonaRow",
    "ReplicaJobRow",
    "ReplicaRow",
    "WebhookDeliveryRow",
]


class Base(DeclarativeBase):
    pass


class PersonaRow(Base):
    __tablename__ = "personas"

    persona_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    persona_name: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[float] = mapped_column(Float, index=True)
    updated_at: Mapped[float] = mapped_column(Float)
    #: the persona document (everything but persona_id and the times)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)


class ConversationRow(Base):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_status_created", "status", "created_at"),)

    conversation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    conversation_name: Mapped[str | None] = mapped_column(String(512))
    persona_id: Mapped[str | None] = mapped_column(String(64))
    replica_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    callback_url: Mapped[str | None] = mapped_column(Text)
    require_auth: Mapped[bool] = mapped_column(Boolean, default=False)
    meeting_token: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[float] = mapped_column(Float, index=True)
    updated_at: Mapped[float] = mapped_column(Float)
    ended_at: Mapped[float | None] = mapped_column(Float)
    shutdown_reason: Mapped[str | None] = mapped_column(String(256))
    #: the creation request (context, greeting, properties …)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: the persona as it was when the conversation was created
    persona: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: in a cluster, the node hosting the conversation now (None on a single server)
    node_id: Mapped[str | None] = mapped_column(String(128), default=None)


class ConversationStateRow(Base):
    """What a live conversation's events do not say, saved at each turn boundary so that
    another cluster node can take it over (docs/scaling.md): the LLM context and history
    as of the event `last_seq`."""

    __tablename__ = "conversation_states"

    conversation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer)
    turn_idx: Mapped[int] = mapped_column(Integer)
    #: the conversational context (`overwrite`/`append` change it)
    context: Mapped[str] = mapped_column(Text)
    #: the LLM history: [{role, content, tool_call_id, name, tool_calls}, …]
    history: Mapped[list[Any]] = mapped_column(JSON)
    updated_at: Mapped[float] = mapped_column(Float)


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("conversation_id", "seq", name="uq_events_conv_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    event_type: Mapped[str] = mapped_column(String(128))
    timestamp: Mapped[float] = mapped_column(Float)
    #: the event exactly as broadcast (encoded JSON)
    data: Mapped[str] = mapped_column(Text)


class ReplicaRow(Base):
    """A replica's name as set with `PATCH /v2/replicas/{id}/name`; the replicas
    themselves are the avatar catalog's (built-ins and portrait files)."""

    __tablename__ = "replicas"

    replica_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    replica_name: Mapped[str] = mapped_column(String(512))
    updated_at: Mapped[float] = mapped_column(Float)


class ReplicaJobRow(Base):
    """A replica being made (`POST /v2/replicas`) or that failed to be: its status and
    progress survive a restart. A completed job's row is deleted (the replica is the
    catalog's from then on)."""

    __tablename__ = "replica_jobs"

    replica_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    replica_name: Mapped[str] = mapped_column(String(512))
    #: `started` or `error` (a completed job has no row)
    status: Mapped[str] = mapped_column(String(16), index=True)
    #: out of 100
    progress: Mapped[int] = mapped_column(Integer, default=0)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    callback_url: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    #: the node running the job, in a cluster (None on a single server)
    node_id: Mapped[str | None] = mapped_column(String(128), default=None)
    #: what it makes: `portrait` (from a photo) or `video`
    kind: Mapped[str] = mapped_column(String(16), default="portrait")


class WebhookDeliveryRow(Base):
    """One webhook POST to make (SPEC §6), kept until it is made or given up, so a
    restart resumes it. Plain columns only, so any SQL database holds it."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_pending", "status", "conversation_id"),)

    #: insertion order: the order of a conversation's deliveries
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: the `webhook-id` header, the same on every attempt
    webhook_id: Mapped[str] = mapped_column(String(64), unique=True)
    conversation_id: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text)
    #: the request body exactly as signed and sent (JSON)
    body: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float)
    #: `pending`, `delivered` or `failed` (given up)
    status: Mapped[str] = mapped_column(String(16))
    #: the node making this delivery now, until `claimed_until` (a lease: a node that
    #: dies mid-attempt leaves it to another once the lease runs out)
    claimed_by: Mapped[str | None] = mapped_column(String(128), default=None)
    claimed_until: Mapped[float | None] = mapped_column(Float, default=None)
