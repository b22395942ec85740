"""Persistence: personas, conversations, every broadcast event and the webhook deliveries
still to make (SQLAlchemy 2 async).

SQLite (aiosqlite) by default; any SQLAlchemy async URL works (PostgreSQL with asyncpg)
with the same code. Rows come back as plain frozen records, never ORM objects, so
nothing above this module holds a session.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ARRAY,
    String,
    and_,
    bindparam,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)

from openreplica.server.schema import upgrade
from openreplica.server.tables import (
    ConversationRow,
    ConversationStateRow,
    EventRow,
    PersonaRow,
    ReplicaJobRow,
    ReplicaRow,
    WebhookDeliveryRow,
)

__all__ = [
    "ConversationRecord",
    "ConversationState",
    "DeliveryStatus",
    "EventRecord",
    "PersonaRecord",
    "ReplicaJobRecord",
    "Store",
    "WebhookClaim",
    "WebhookDeliveryRecord",
]


@dataclass(frozen=True, slots=True)
class PersonaRecord:
    persona_id: str
    persona_name: str | None
    created_at: float
    updated_at: float
    document: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    conversation_id: str
    conversation_name: str | None
    persona_id: str | None
    replica_id: str
    status: str
    callback_url: str | None
    require_auth: bool
    meeting_token: str | None
    created_at: float
    updated_at: float
    ended_at: float | None
    shutdown_reason: str | None
    request: dict[str, Any]
    persona: dict[str, Any]
    #: in a cluster, the node hosting the conversation now
    node_id: str | None = None


@dataclass(frozen=True, slots=True)
class ConversationState:
    """A live conversation's LLM state as of event `last_seq` (cluster takeover)."""

    conversation_id: str
    last_seq: int
    turn_idx: int
    context: str
    #: the LLM history as JSON objects (role, content, tool_call_id, name, tool_calls)
    history: list[dict[str, Any]]
    updated_at: float


@dataclass(frozen=True, slots=True)
class EventRecord:
    conversation_id: str
    seq: int
    event_type: str
    timestamp: float
    data: bytes


class DeliveryStatus:
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # given up after the last attempt


@dataclass(frozen=True, slots=True)
class WebhookDeliveryRecord:
    webhook_id: str
    conversation_id: str
    url: str
    body: bytes
    attempts: int
    next_attempt_at: float
    status: str = DeliveryStatus.PENDING


@dataclass(frozen=True, slots=True)
class WebhookClaim:
    """What `claim_webhook_delivery` got: the conversation's oldest pending delivery,
    now leased to the caller; or None, with `held` when another node's lease is live on
    it (that node makes it and the ones after it)."""

    delivery: WebhookDeliveryRecord | None
    held: bool = False


@dataclass(frozen=True, slots=True)
class ReplicaJobRecord:
    """A replica training job (`server/replica_training.py`): `started` or `error`."""

    replica_id: str
    replica_name: str
    status: str
    progress: int
    error_message: str | None
    callback_url: str | None
    created_at: float
    updated_at: float
    #: in a cluster, the node running it (None on a single server)
    node_id: str | None = None
    #: `portrait` or `video`
    kind: str = "portrait"


_JOB_FIELDS = (
    "replica_name",
    "status",
    "progress",
    "error_message",
    "callback_url",
    "created_at",
    "updated_at",
    "node_id",
    "kind",
)


#: milliseconds a transaction that stores a cluster node's events may stay idle (its
#: node frozen half-way) before PostgreSQL ends it: it holds share locks that a node
#: taking its conversations over waits for
WRITE_IDLE_BOUND_MS = 2000


_HOSTED_PG = text(
    "SELECT conversation_id,"
    " set_config('idle_in_transaction_session_timeout', :bound, true)"
    " FROM conversations"
    " WHERE conversation_id = ANY(:ids) AND (node_id = :owner OR node_id IS NULL)"
    " ORDER BY conversation_id FOR SHARE"
).bindparams(bindparam("ids", type_=ARRAY(String)))


def _job(row: ReplicaJobRow) -> ReplicaJobRecord:
    return ReplicaJobRecord(row.replica_id, *(getattr(row, f) for f in _JOB_FIELDS))


def _persona(row: PersonaRow) -> PersonaRecord:
    return PersonaRecord(
        row.persona_id, row.persona_name, row.created_at, row.updated_at, dict(row.document)
    )


def _conversation(row: ConversationRow) -> ConversationRecord:
    return ConversationRecord(
        conversation_id=row.conversation_id,
        conversation_name=row.conversation_name,
        persona_id=row.persona_id,
        replica_id=row.replica_id,
        status=row.status,
        callback_url=row.callback_url,
        require_auth=row.require_auth,
        meeting_token=row.meeting_token,
        created_at=row.created_at,
        updated_at=row.updated_at,
        ended_at=row.ended_at,
        shutdown_reason=row.shutdown_reason,
        request=dict(row.request),
        persona=dict(row.persona),
        node_id=row.node_id,
    )


def _delivery(row: WebhookDeliveryRow) -> WebhookDeliveryRecord:
    return WebhookDeliveryRecord(
        webhook_id=row.webhook_id,
        conversation_id=row.conversation_id,
        url=row.url,
        body=row.body.encode(),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        status=row.status,
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Store:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    async def open(cls, url: str) -> Store:
        """Connect and bring the schema up to date (creating the SQLite file's
        directory when needed)."""
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url)
        if parsed.get_backend_name() == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        await upgrade(engine)
        return cls(engine)

    async def aclose(self) -> None:
        await self._engine.dispose()

    # ------------------------------------------------------------------ personas

    async def add_persona(self, record: PersonaRecord) -> None:
        async with self._sessions.begin() as session:
            session.add(
                PersonaRow(
                    persona_id=record.persona_id,
                    persona_name=record.persona_name,
                    created_at=record.created_at,
                    updated_at=record.updated_at,
                    document=record.document,
                )
            )

    async def get_persona(self, persona_id: str) -> PersonaRecord | None:
        async with self._sessions() as session:
            row = await session.get(PersonaRow, persona_id)
            return _persona(row) if row is not None else None

    async def list_personas(self, limit: int, offset: int) -> tuple[list[PersonaRecord], int]:
        async with self._sessions() as session:
            total = await session.scalar(select(func.count()).select_from(PersonaRow))
            rows = await session.scalars(
                select(PersonaRow)
                .order_by(PersonaRow.created_at.desc(), PersonaRow.persona_id)
                .limit(limit)
                .offset(offset)
            )
            return [_persona(r) for r in rows], int(total or 0)

    async def update_persona(
        self, persona_id: str, name: str | None, document: dict[str, Any], now: float
    ) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(PersonaRow)
                .where(PersonaRow.persona_id == persona_id)
                .values(persona_name=name, document=document, updated_at=now)
            )

    async def delete_persona(self, persona_id: str) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(PersonaRow).where(PersonaRow.persona_id == persona_id)
            )
            return bool(getattr(result, "rowcount", 0))

    # ------------------------------------------------------------------ conversations

    async def add_conversation(self, record: ConversationRecord) -> None:
        async with self._sessions.begin() as session:
            session.add(ConversationRow(**{f: getattr(record, f) for f in record.__slots__}))

    async def get_conversation(self, conversation_id: str) -> ConversationRecord | None:
        async with self._sessions() as session:
            row = await session.get(ConversationRow, conversation_id)
            return _conversation(row) if row is not None else None

    async def list_conversations(
        self, limit: int, offset: int, status: str | None
    ) -> tuple[list[ConversationRecord], int]:
        where = [] if status is None else [ConversationRow.status == status]
        async with self._sessions() as session:
            total = await session.scalar(
                select(func.count()).select_from(ConversationRow).where(*where)
            )
            rows = await session.scalars(
                select(ConversationRow)
                .where(*where)
                .order_by(ConversationRow.created_at.desc(), ConversationRow.conversation_id)
                .limit(limit)
                .offset(offset)
            )
            return [_conversation(r) for r in rows], int(total or 0)

    async def mark_ended(self, conversation_id: str, reason: str, now: float) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(ConversationRow)
                .where(ConversationRow.conversation_id == conversation_id)
                .values(status="ended", shutdown_reason=reason, ended_at=now, updated_at=now)
            )

    async def active_conversation_ids(self, node_id: str | None = None) -> list[str]:
        """Active conversations: all of them, or those hosted by `node_id`."""
        where = [ConversationRow.status == "active"]
        if node_id is not None:
            where.append(ConversationRow.node_id == node_id)
        async with self._sessions() as session:
            rows = await session.scalars(select(ConversationRow.conversation_id).where(*where))
            return list(rows)

    async def active_conversation_nodes(self) -> dict[str, str]:
        """conversation_id -> node_id of every active conversation placed on a node."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(ConversationRow.conversation_id, ConversationRow.node_id).where(
                    ConversationRow.status == "active", ConversationRow.node_id.is_not(None)
                )
            )
            return {cid: str(node) for cid, node in rows}

    async def move_conversation(self, conversation_id: str, from_node: str, to_node: str) -> bool:
        """Hand an active conversation from `from_node` to `to_node`, unless another node
        did first (compare-and-set on `node_id`); True when this call moved it."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(ConversationRow)
                .where(
                    ConversationRow.conversation_id == conversation_id,
                    ConversationRow.node_id == from_node,
                    ConversationRow.status == "active",
                )
                .values(node_id=to_node)
            )
            return bool(getattr(result, "rowcount", 0))

    async def delete_conversation(self, conversation_id: str) -> bool:
        async with self._sessions.begin() as session:
            await session.execute(
                delete(EventRow).where(EventRow.conversation_id == conversation_id)
            )
            await session.execute(
                delete(ConversationStateRow).where(
                    ConversationStateRow.conversation_id == conversation_id
                )
            )
            # pending deliveries stay: the conversation's last webhooks are still owed
            await session.execute(
                delete(WebhookDeliveryRow).where(
                    WebhookDeliveryRow.conversation_id == conversation_id,
                    WebhookDeliveryRow.status != DeliveryStatus.PENDING,
                )
            )
            result = await session.execute(
                delete(ConversationRow).where(ConversationRow.conversation_id == conversation_id)
            )
            return bool(getattr(result, "rowcount", 0))

    # ------------------------------------------------------------------ replicas

    async def replica_names(self) -> dict[str, tuple[str, float]]:
        """replica_id -> (name given through the API, when it was given)."""
        async with self._sessions() as session:
            rows = await session.scalars(select(ReplicaRow))
            return {r.replica_id: (r.replica_name, r.updated_at) for r in rows}

    async def set_replica_name(self, replica_id: str, name: str, now: float) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(ReplicaRow, replica_id)
            if row is None:
                session.add(ReplicaRow(replica_id=replica_id, replica_name=name, updated_at=now))
            else:
                row.replica_name, row.updated_at = name, now

    async def save_replica_job(self, job: ReplicaJobRecord) -> None:
        """Insert or update a training job's record."""
        async with self._sessions.begin() as session:
            row = await session.get(ReplicaJobRow, job.replica_id)
            if row is None:
                session.add(
                    ReplicaJobRow(
                        replica_id=job.replica_id, **{f: getattr(job, f) for f in _JOB_FIELDS}
                    )
                )
            else:
                for f in _JOB_FIELDS:
                    setattr(row, f, getattr(job, f))

    async def replica_job(self, replica_id: str) -> ReplicaJobRecord | None:
        async with self._sessions() as session:
            row = await session.get(ReplicaJobRow, replica_id)
            return _job(row) if row is not None else None

    async def replica_jobs(
        self, status: str | None = None, node_id: str | None = None
    ) -> list[ReplicaJobRecord]:
        """Jobs oldest first; only those with `status`, and (when given) run by `node_id`."""
        query = select(ReplicaJobRow).order_by(ReplicaJobRow.created_at)
        if status is not None:
            query = query.where(ReplicaJobRow.status == status)
        if node_id is not None:
            query = query.where(ReplicaJobRow.node_id == node_id)
        async with self._sessions() as session:
            return [_job(r) for r in await session.scalars(query)]

    async def fail_replica_job(
        self, replica_id: str, node_id: str | None, message: str, now: float
    ) -> bool:
        """Put a job `started` by `node_id` in `error` with `message`, unless it is no
        longer that (compare-and-set: of several nodes settling it, one does); True when
        this call did."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(ReplicaJobRow)
                .where(
                    ReplicaJobRow.replica_id == replica_id,
                    ReplicaJobRow.status == "started",
                    ReplicaJobRow.node_id.is_(None)
                    if node_id is None
                    else ReplicaJobRow.node_id == node_id,
                )
                .values(status="error", error_message=message, updated_at=now)
            )
            return bool(getattr(result, "rowcount", 0))

    async def delete_replica_job(self, replica_id: str) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(ReplicaJobRow).where(ReplicaJobRow.replica_id == replica_id)
            )
            return bool(getattr(result, "rowcount", 0))

    # ------------------------------------------------------------------ events

    async def add_events(self, events: Sequence[EventRecord], owner: str | None = None) -> set[str]:
        """Store `events` in one transaction. `owner` (a cluster node's writer): only the
        events of conversations that node hosts (`node_id`) are stored, checked in the
        same transaction under a share lock on their rows, so that a node that lost a
        conversation (fenced off, late) can never store a `seq` after another node moved
        it to itself (`move_conversation` waits for this transaction, and the new owner
        then reads what it stored). Returns the conversations whose events were not
        stored for that reason."""
        if not events:
            return set()
        refused: set[str] = set()
        rows = [
            {
                "conversation_id": e.conversation_id,
                "seq": e.seq,
                "event_type": e.event_type,
                "timestamp": e.timestamp,
                "data": e.data.decode(),
            }
            for e in events
        ]
        # a connection, not an ORM session: the node's writer commits a batch every
        # 50 ms, and the session's machinery was a third of each one's CPU
        async with self._engine.begin() as connection:
            if owner is not None:
                refused = await self._not_hosted(
                    connection, {e.conversation_id for e in events}, owner
                )
                rows = [r for r in rows if r["conversation_id"] not in refused]
            if rows:
                await connection.execute(insert(EventRow), rows)
        return refused

    @staticmethod
    async def _not_hosted(
        connection: AsyncConnection, conversations: set[str], owner: str
    ) -> set[str]:
        """Of `conversations`, those not hosted by `owner` (a conversation without a
        node is nobody else's either); the others' rows are share-locked until the
        transaction ends (a move waits for it)."""
        wanted = sorted(conversations)
        if connection.dialect.name == "postgresql":
            # one prepared statement whatever the number of conversations; a node frozen
            # half-way through this transaction would hold the locks: bounded, set with
            # each row locked (none locked: nothing to bound)
            hosted = await connection.execute(
                _HOSTED_PG, {"ids": wanted, "owner": owner, "bound": str(WRITE_IDLE_BOUND_MS)}
            )
        else:
            hosted = await connection.execute(
                select(ConversationRow.conversation_id)
                .where(
                    ConversationRow.conversation_id.in_(wanted),
                    or_(ConversationRow.node_id == owner, ConversationRow.node_id.is_(None)),
                )
                .with_for_update(read=True)  # nothing on SQLite: one writer at a time
            )
        return set(wanted) - set(hosted.scalars())

    async def load_events(self, conversation_id: str, after_seq: int = 0) -> list[EventRecord]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(EventRow.seq, EventRow.event_type, EventRow.timestamp, EventRow.data)
                .where(EventRow.conversation_id == conversation_id, EventRow.seq > after_seq)
                .order_by(EventRow.seq)
            )
            return [
                EventRecord(conversation_id, seq, event_type, timestamp, data.encode())
                for seq, event_type, timestamp, data in rows
            ]

    async def last_event(self, conversation_id: str) -> tuple[int, float]:
        """(last seq, its timestamp), (0, 0.0) when the conversation has no events."""
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(EventRow.seq, EventRow.timestamp)
                    .where(EventRow.conversation_id == conversation_id)
                    .order_by(EventRow.seq.desc())
                    .limit(1)
                )
            ).first()
            return (int(row[0]), float(row[1])) if row is not None else (0, 0.0)

    # ------------------------------------------------------------------ live state

    async def save_state(self, state: ConversationState, owner: str | None = None) -> bool:
        """Keep `state` unless a newer one (a higher `last_seq`) is stored already, or
        (`owner`: a cluster node's saver) the conversation is no longer hosted by that
        node (checked as `add_events` does). False when it was not hosted."""
        async with self._sessions.begin() as session:
            if owner is not None:
                connection = await session.connection()
                if await self._not_hosted(connection, {state.conversation_id}, owner):
                    return False
            row = await session.get(ConversationStateRow, state.conversation_id)
            if row is None:
                session.add(
                    ConversationStateRow(
                        conversation_id=state.conversation_id,
                        last_seq=state.last_seq,
                        turn_idx=state.turn_idx,
                        context=state.context,
                        history=state.history,
                        updated_at=state.updated_at,
                    )
                )
            elif row.last_seq < state.last_seq:
                row.last_seq, row.turn_idx = state.last_seq, state.turn_idx
                row.context, row.history = state.context, state.history
                row.updated_at = state.updated_at
        return True

    async def load_state(self, conversation_id: str) -> ConversationState | None:
        async with self._sessions() as session:
            row = await session.get(ConversationStateRow, conversation_id)
            if row is None:
                return None
            return ConversationState(
                row.conversation_id,
                row.last_seq,
                row.turn_idx,
                row.context,
                list(row.history),
                row.updated_at,
            )

    # ------------------------------------------------------------------ webhook deliveries

    async def add_webhook_deliveries(self, deliveries: Sequence[WebhookDeliveryRecord]) -> None:
        """Store new deliveries; each conversation's are made in the order stored."""
        if not deliveries:
            return
        rows = [
            {
                "webhook_id": d.webhook_id,
                "conversation_id": d.conversation_id,
                "url": d.url,
                "body": d.body.decode(),
                "attempts": d.attempts,
                "next_attempt_at": d.next_attempt_at,
                "status": d.status,
            }
            for d in deliveries
        ]
        async with self._sessions.begin() as session:
            await session.execute(insert(WebhookDeliveryRow), rows)

    async def next_webhook_delivery(self, conversation_id: str) -> WebhookDeliveryRecord | None:
        """The oldest pending delivery of a conversation."""
        async with self._sessions() as session:
            row = await session.scalar(
                select(WebhookDeliveryRow)
                .where(
                    WebhookDeliveryRow.conversation_id == conversation_id,
                    WebhookDeliveryRow.status == DeliveryStatus.PENDING,
                )
                .order_by(WebhookDeliveryRow.id)
                .limit(1)
            )
            return _delivery(row) if row is not None else None

    # Leases (docs/scaling.md, "Webhooks across nodes"): a node makes a conversation's
    # deliveries only while it holds a lease on the oldest pending one, taken with one
    # compare-and-set UPDATE (free = never claimed, expired, or already ours), so on
    # PostgreSQL or SQLite two nodes never hold it at once and the order stays.

    @staticmethod
    def _lease_free(node: str, now: float) -> Any:
        return or_(
            WebhookDeliveryRow.claimed_until.is_(None),
            WebhookDeliveryRow.claimed_until < now,
            WebhookDeliveryRow.claimed_by == node,
        )

    async def claim_webhook_delivery(
        self, conversation_id: str, node: str, now: float, until: float
    ) -> WebhookClaim:
        """Lease the oldest pending delivery of a conversation to `node` until `until`,
        unless another node's lease on it is live at `now`."""
        async with self._sessions.begin() as session:
            head = await session.scalar(
                select(WebhookDeliveryRow.id)
                .where(
                    WebhookDeliveryRow.conversation_id == conversation_id,
                    WebhookDeliveryRow.status == DeliveryStatus.PENDING,
                )
                .order_by(WebhookDeliveryRow.id)
                .limit(1)
            )
            if head is None:
                return WebhookClaim(None)
            claimed = await session.execute(
                update(WebhookDeliveryRow)
                .where(
                    WebhookDeliveryRow.id == head,
                    WebhookDeliveryRow.status == DeliveryStatus.PENDING,
                    self._lease_free(node, now),
                )
                .values(claimed_by=node, claimed_until=until)
            )
            if getattr(claimed, "rowcount", 0) != 1:
                return WebhookClaim(None, held=True)
            row = await session.scalar(
                select(WebhookDeliveryRow).where(WebhookDeliveryRow.id == head)
            )
            assert row is not None
            return WebhookClaim(_delivery(row))

    async def renew_webhook_claim(self, webhook_id: str, node: str, until: float) -> bool:
        """Extend `node`'s lease on a pending delivery; False when it is not ours now."""
        async with self._sessions.begin() as session:
            renewed = await session.execute(
                update(WebhookDeliveryRow)
                .where(
                    WebhookDeliveryRow.webhook_id == webhook_id,
                    WebhookDeliveryRow.status == DeliveryStatus.PENDING,
                    WebhookDeliveryRow.claimed_by == node,
                )
                .values(claimed_until=until)
            )
            return bool(getattr(renewed, "rowcount", 0) == 1)

    async def release_webhook_claims(self, node: str) -> int:
        """Give up every lease `node` holds (a clean stop): others take them at once."""
        async with self._sessions.begin() as session:
            released = await session.execute(
                update(WebhookDeliveryRow)
                .where(
                    WebhookDeliveryRow.claimed_by == node,
                    WebhookDeliveryRow.status == DeliveryStatus.PENDING,
                )
                .values(claimed_by=None, claimed_until=None)
            )
            return int(getattr(released, "rowcount", 0))

    async def conversations_with_claimable_webhooks(self, node: str, now: float) -> list[str]:
        """Conversations whose oldest pending delivery has no live lease but `node`'s
        (never claimed, released, or its node stopped renewing: it died)."""
        oldest = (
            select(func.min(WebhookDeliveryRow.id))
            .where(WebhookDeliveryRow.status == DeliveryStatus.PENDING)
            .group_by(WebhookDeliveryRow.conversation_id)
            .scalar_subquery()
        )
        async with self._sessions() as session:
            rows = await session.scalars(
                select(WebhookDeliveryRow.conversation_id)
                .where(
                    and_(
                        WebhookDeliveryRow.status == DeliveryStatus.PENDING,
                        WebhookDeliveryRow.id.in_(oldest),
                        self._lease_free(node, now),
                    )
                )
                .distinct()
            )
            return list(rows)

    async def conversations_with_pending_webhooks(self) -> list[str]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(WebhookDeliveryRow.conversation_id)
                .where(WebhookDeliveryRow.status == DeliveryStatus.PENDING)
                .distinct()
            )
            return list(rows)

    async def record_webhook_attempt(
        self,
        webhook_id: str,
        attempts: int,
        status: str,
        next_attempt_at: float,
        claimed_by: str | None = None,
    ) -> bool:
        """Store an attempt's outcome. With `claimed_by`, only while that node holds the
        lease (False otherwise: another node has the delivery now), and a delivery that
        is done (delivered or given up) is released."""
        done = status != DeliveryStatus.PENDING
        values: dict[str, Any] = {
            "attempts": attempts,
            "status": status,
            "next_attempt_at": next_attempt_at,
        }
        query = update(WebhookDeliveryRow).where(WebhookDeliveryRow.webhook_id == webhook_id)
        if claimed_by is not None:
            query = query.where(WebhookDeliveryRow.claimed_by == claimed_by)
            if done:
                values.update(claimed_by=None, claimed_until=None)
        async with self._sessions.begin() as session:
            result = await session.execute(query.values(**values))
            return bool(getattr(result, "rowcount", 0) == 1)

    async def webhook_deliveries(self, conversation_id: str) -> list[WebhookDeliveryRecord]:
        """Every stored delivery of a conversation, oldest first."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(WebhookDeliveryRow)
                .where(WebhookDeliveryRow.conversation_id == conversation_id)
                .order_by(WebhookDeliveryRow.id)
            )
            return [_delivery(r) for r in rows]
