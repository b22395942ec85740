"""The store behaves the same on SQLite and on a real PostgreSQL, and its schema is the
one the Alembic migrations build."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from db_servers import PostgresServer
from eventually import eventually
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from openreplica.server.schema import upgrade
from openreplica.server.store import (
    ConversationRecord,
    ConversationState,
    DeliveryStatus,
    EventRecord,
    PersonaRecord,
    ReplicaJobRecord,
    Store,
    WebhookDeliveryRecord,
)
from openreplica.server.tables import Base


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(database_url)
    yield opened
    await opened.aclose()


def _conversation(
    cid: str, created: float, status: str = "active", **kw: Any
) -> ConversationRecord:
    return ConversationRecord(
        conversation_id=cid,
        conversation_name=f"name {cid}",
        persona_id="p1",
        replica_id="r1",
        status=status,
        callback_url=None,
        require_auth=False,
        meeting_token=None,
        created_at=created,
        updated_at=created,
        ended_at=None,
        shutdown_reason=None,
        request={"properties": {"max_call_duration": 60}, "unknown_field": [1, "x"]},
        persona={"persona_name": "Ada", "layers": {"llm": {"model": "m"}}},
        **kw,
    )


def _diff(connection: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


async def test_the_migrations_build_exactly_the_tables_the_code_declares(
    database_url: str,
) -> None:
    engine = create_async_engine(database_url)
    try:
        await upgrade(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).one()
            assert version[0] == "0004"
        await upgrade(engine)  # a second start changes nothing
    finally:
        await engine.dispose()


async def test_a_database_made_before_migrations_is_adopted(database_url: str) -> None:
    """Such a database has the initial revision's tables and no `alembic_version`."""
    engine = create_async_engine(database_url)
    try:
        await upgrade(engine, "0001")
        async with engine.begin() as conn:
            await conn.execute(text("DROP TABLE alembic_version"))
            await conn.execute(
                text(
                    "INSERT INTO personas (persona_id, persona_name, created_at, updated_at,"
                    " document) VALUES ('kept', 'Kept', 1.0, 1.0, '{}')"
                )
            )
            tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
            assert "alembic_version" not in tables
    finally:
        await engine.dispose()
    store = await Store.open(database_url)
    try:
        assert (await store.get_persona("kept")) is not None
        await store.add_conversation(_conversation("c1", 1.0, node_id="node-a"))
        got = await store.get_conversation("c1")
        assert got is not None and got.node_id == "node-a"
    finally:
        await store.aclose()


async def test_personas_conversations_events_and_replicas_round_trip(store: Store) -> None:
    await store.add_persona(PersonaRecord("p1", "Ada", 1.0, 1.0, {"system_prompt": "hi"}))
    await store.add_persona(PersonaRecord("p2", None, 2.0, 2.0, {}))
    personas, total = await store.list_personas(10, 0)
    assert total == 2 and [p.persona_id for p in personas] == ["p2", "p1"]
    await store.update_persona("p1", "Ada II", {"system_prompt": "bye"}, 3.0)
    updated = await store.get_persona("p1")
    assert updated == PersonaRecord("p1", "Ada II", 1.0, 3.0, {"system_prompt": "bye"})
    assert await store.delete_persona("p2") and not await store.delete_persona("p2")

    for i in range(3):
        await store.add_conversation(_conversation(f"c{i}", float(i), node_id=f"n{i}"))
    stored = await store.get_conversation("c1")
    assert stored == _conversation("c1", 1.0, node_id="n1")
    await store.mark_ended("c0", "end_conversation_endpoint_hit", 9.0)
    active, n_active = await store.list_conversations(10, 0, "active")
    assert n_active == 2 and [c.conversation_id for c in active] == ["c2", "c1"]
    assert sorted(await store.active_conversation_ids()) == ["c1", "c2"]
    ended = await store.get_conversation("c0")
    assert ended is not None and ended.status == "ended" and ended.ended_at == 9.0

    events = [
        EventRecord("c1", s, "conversation.utterance", 10.0 + s, b'{"seq":%d}' % s)
        for s in range(1, 6)
    ]
    await store.add_events(events)
    assert await store.load_events("c1") == events
    assert await store.load_events("c1", after_seq=3) == events[3:]
    assert await store.last_event("c1") == (5, 15.0)
    assert await store.last_event("c2") == (0, 0.0)
    with pytest.raises(Exception):  # noqa: B017 - (conversation, seq) is unique on both
        await store.add_events([events[0]])

    await store.set_replica_name("r1", "Face", 1.0)
    await store.set_replica_name("r1", "Face II", 2.0)
    assert await store.replica_names() == {"r1": ("Face II", 2.0)}

    assert await store.delete_conversation("c1")
    assert await store.get_conversation("c1") is None
    assert await store.load_events("c1") == []


async def test_replica_jobs_round_trip_and_filter_by_status_and_node(store: Store) -> None:
    started = ReplicaJobRecord("r-a", "Ada", "started", 20, None, "http://h/x", 1.0, 2.0, "n1")
    failed = ReplicaJobRecord("r-b", "Bo", "error", 40, "no face found", None, 0.5, 3.0)
    await store.save_replica_job(started)
    await store.save_replica_job(failed)
    assert await store.replica_job("r-a") == started
    assert await store.replica_jobs() == [failed, started]  # oldest first
    assert await store.replica_jobs("started") == [started]
    assert await store.replica_jobs("started", "n2") == []
    assert await store.replica_jobs(node_id="n1") == [started]
    moved_on = ReplicaJobRecord("r-a", "Ada", "started", 80, None, "http://h/x", 1.0, 4.0, "n1")
    await store.save_replica_job(moved_on)  # an update, not a second row
    assert await store.replica_jobs("started") == [moved_on]
    assert await store.delete_replica_job("r-a") and not await store.delete_replica_job("r-a")
    assert await store.replica_job("r-a") is None


async def test_a_started_job_is_failed_once_and_only_from_its_node(store: Store) -> None:
    started = ReplicaJobRecord("r-a", "Ada", "started", 20, None, None, 1.0, 2.0, "n1")
    await store.save_replica_job(started)
    assert not await store.fail_replica_job("r-a", "n2", "gone", 5.0)  # not n2's
    assert await store.fail_replica_job("r-a", "n1", "n1 died", 5.0)
    assert not await store.fail_replica_job("r-a", "n1", "n1 died", 6.0)  # settled already
    failed = await store.replica_job("r-a")
    assert failed is not None
    assert (failed.status, failed.error_message, failed.updated_at) == ("error", "n1 died", 5.0)
    alone = ReplicaJobRecord("r-b", "Bo", "started", 0, None, None, 1.0, 2.0)  # one server
    await store.save_replica_job(alone)
    assert await store.fail_replica_job("r-b", None, "restarted", 5.0)


async def test_webhook_deliveries_keep_their_order_and_pending_ones_survive_a_delete(
    store: Store,
) -> None:
    await store.add_conversation(_conversation("c1", 1.0))
    deliveries = [
        WebhookDeliveryRecord(f"msg_{i}", "c1", "http://x/h", b'{"i":%d}' % i, 0, 1.0)
        for i in range(3)
    ]
    await store.add_webhook_deliveries(deliveries)
    assert await store.conversations_with_pending_webhooks() == ["c1"]
    assert (await store.next_webhook_delivery("c1")) == deliveries[0]
    await store.record_webhook_attempt("msg_0", 1, DeliveryStatus.DELIVERED, 2.0)
    await store.record_webhook_attempt("msg_1", 5, DeliveryStatus.FAILED, 3.0)
    nxt = await store.next_webhook_delivery("c1")
    assert nxt is not None and nxt.webhook_id == "msg_2"
    await store.delete_conversation("c1")
    assert [d.webhook_id for d in await store.webhook_deliveries("c1")] == ["msg_2"]


async def test_a_nodes_writes_land_only_while_it_hosts_the_conversation(store: Store) -> None:
    """A cluster node's event batch and state save (`owner`) are stored only for the
    conversations whose `node_id` is still that node's (or none): a node fenced off late
    never stores a `seq` after another node took the conversation over."""
    await store.add_conversation(_conversation("c1", 1.0, node_id="n1"))
    await store.add_conversation(_conversation("c2", 1.0, node_id="n1"))
    await store.add_conversation(_conversation("solo", 1.0))  # one server: no node
    first = [
        EventRecord(cid, 1, "conversation.utterance", 1.0, b'{"seq":1}')
        for cid in ("c1", "c2", "solo")
    ]
    assert await store.add_events(first, owner="n1") == set()
    assert await store.move_conversation("c1", "n1", "n2")
    late = [
        EventRecord(cid, 2, "conversation.utterance", 2.0, b'{"late":1}') for cid in ("c1", "c2")
    ]
    assert await store.add_events(late, owner="n1") == {"c1"}  # c1 is n2's now
    assert await store.last_event("c1") == (1, 1.0)
    assert await store.last_event("c2") == (2, 2.0)
    newer = [EventRecord("c1", 2, "conversation.utterance", 3.0, b'{"new":1}')]
    assert await store.add_events(newer, owner="n2") == set()  # the new owner's seq 2
    assert await store.load_events("c1", 1) == newer

    state = ConversationState("c1", 5, 2, "context", [], 9.0)
    assert not await store.save_state(state, owner="n1")
    assert await store.load_state("c1") is None
    assert await store.save_state(state, owner="n2")
    assert await store.load_state("c1") == state


async def test_moving_a_conversation_waits_for_its_owners_write_in_progress(
    postgres: PostgresServer,
) -> None:
    """On PostgreSQL the owner's batch share-locks its conversations' rows: a node taking
    one over (`move_conversation`) waits until the batch is committed, then reads it —
    here the batch is held up by a lock on the events table the test holds."""
    url = postgres.create_database("moves_wait")
    store = await Store.open(url)
    holder = create_async_engine(url)
    try:
        await store.add_conversation(_conversation("c1", 1.0, node_id="n1"))
        async with holder.connect() as blocking:
            transaction = await blocking.begin()
            await blocking.execute(text("LOCK TABLE events IN EXCLUSIVE MODE"))
            batch = [EventRecord("c1", s, "x", float(s), b"{}") for s in (1, 2)]
            writing = asyncio.create_task(store.add_events(batch, owner="n1"))
            await _waiting_on_locks(blocking, 1)
            moving = asyncio.create_task(store.move_conversation("c1", "n1", "n2"))
            await _waiting_on_locks(blocking, 2)  # the move waits for the batch
            assert not writing.done() and not moving.done()
            await transaction.rollback()
            assert await writing == set()  # stored: it was n1's when it began
            assert await moving
        assert await store.last_event("c1") == (2, 2.0)  # what the new owner reads
        late = [EventRecord("c1", 3, "x", 3.0, b"{}")]
        assert await store.add_events(late, owner="n1") == {"c1"}
    finally:
        await holder.dispose()
        await store.aclose()


async def _waiting_on_locks(connection: AsyncConnection, count: int) -> None:
    async def waiting() -> bool:
        await connection.execute(text("SELECT pg_stat_clear_snapshot()"))  # taken anew
        query = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        return bool((await connection.execute(text(query))).scalar_one() == count)

    await eventually(waiting, timeout=10, message=f"{count} transactions waiting on locks")
