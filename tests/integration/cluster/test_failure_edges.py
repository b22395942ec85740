"""Failure edges of a cluster (docs/scaling.md, failure model), on real node processes,
a real Redis and a real PostgreSQL: a creation placed on a node that died less than a
TTL ago; replica training jobs left `started` by a dead node; a node cut off from Redis
(a zombie) fencing itself off. Interactions sent into a dead owner's pipe:
test_relay_resend.py."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import redis
from cluster_nodes import KEY, node_id, running_nodes
from db_servers import PostgresServer, RedisServer
from eventually import eventually
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from webhook_receiver import WebhookReceiver

from openreplica.server.replica_jobs import died
from openreplica.server.store import ReplicaJobRecord, Store


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    made = WebhookReceiver()
    await made.start()
    yield made
    await made.stop()


def _load(server: RedisServer, node: str) -> int:
    """The node's placement count in the registry (-1: not registered)."""
    value = redis.Redis(port=server.port).hget(f"or:node:{node}", "load")
    return int(value) if value is not None else -1


async def test_a_creation_placed_on_a_node_that_just_died_goes_to_a_live_node_or_503(
    tmp_path: Path, redis_server: RedisServer, postgres: PostgresServer
) -> None:
    # a TTL long enough that the dead node stays in the registry all through the test
    env = {"OPENREPLICA_NODE_TTL": "60"}
    with running_nodes(tmp_path, redis_server, postgres, capacity=1, env=env) as cluster:
        first = cluster.create(cluster.nodes[0])
        empty = sorted(cluster.others(first["node_id"]), key=node_id)
        dead, via = empty  # placement picks the lowest id of equally loaded nodes: `dead`
        dead.stop(signal.SIGKILL)
        assert _load(redis_server, node_id(dead)) == 0  # still listed, with room

        made = cluster.create(via)  # tried on the dead node first, then placed again
        assert made["node_id"] == node_id(via)
        assert _load(redis_server, node_id(dead)) == 0  # its placement was released
        assert _load(redis_server, node_id(via)) == 1
        got = via.get(f"/v2/conversations/{made['conversation_id']}", headers=KEY)
        assert got["status"] == "active" and got["node_id"] == node_id(via)

        # the dead node is the only one listed with room: the documented 503, not 500
        full = httpx.post(via.url + "/v2/conversations", json={}, headers=KEY)
        assert full.status_code == 503, full.text
        assert "every node of the cluster is at capacity" in full.json()["error"]
        assert node_id(dead) in full.json()["error"]
        assert _load(redis_server, node_id(dead)) == 0
        listed = via.get("/v2/conversations?limit=100", headers=KEY)
        assert listed["total_count"] == 2  # the refused one was not left behind


def _job(replica_id: str, node: str, callback_url: str) -> ReplicaJobRecord:
    now = time.time()
    return ReplicaJobRecord(
        replica_id=replica_id,
        replica_name=replica_id,
        status="started",
        progress=40,
        error_message=None,
        callback_url=callback_url,
        created_at=now,
        updated_at=now,
        node_id=node,
        kind="video",
    )


async def test_replica_jobs_started_on_a_node_that_died_end_in_error_with_their_webhook(
    tmp_path: Path, redis_server: RedisServer, postgres: PostgresServer, receiver: WebhookReceiver
) -> None:
    with running_nodes(tmp_path, redis_server, postgres) as cluster:
        doomed, survivor, _ = cluster.nodes
        store = await Store.open(cluster.database)
        try:  # each job as its node's trainer stores it (StoredJobs) while it runs
            hook = receiver.url + "/replicas"
            await store.save_replica_job(_job("r-doomed", node_id(doomed), hook))
            await store.save_replica_job(_job("r-alive", node_id(survivor), hook))
        finally:
            await store.aclose()
        doomed.stop(signal.SIGKILL)

        def settled() -> dict[str, object] | None:
            got = survivor.get("/v2/replicas/r-doomed", headers=KEY)
            return got if got["status"] == "error" else None

        failed = await eventually(settled, timeout=20, message="the dead node's job settled")
        assert failed["error_message"] == died(node_id(doomed))
        webhook = await eventually(
            lambda: receiver.delivered, timeout=20, message="the job's webhook arrived"
        )
        body = json.loads(webhook[0].body)
        assert body["properties"] == {
            "replica_id": "r-doomed",
            "status": "error",
            "error_message": died(node_id(doomed)),
        }
        # a job of a live node goes on; of the two survivors one settled the dead one's
        # (compare-and-set): one delivery stored, so one webhook whatever comes later
        assert survivor.get("/v2/replicas/r-alive", headers=KEY)["status"] == "started"
        assert await _deliveries(cluster.database, "r-doomed") == 1


async def _deliveries(database: str, key: str) -> int:
    engine = create_async_engine(database)
    try:
        async with engine.connect() as connection:
            found = await connection.execute(
                text("SELECT count(*) FROM webhook_deliveries WHERE conversation_id = :k"),
                {"k": key},
            )
            return int(found.scalar_one())
    finally:
        await engine.dispose()
