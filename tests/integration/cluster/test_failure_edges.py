"""Failure edges of a cluster (docs/scaling.md, failure model), on real node processes,
a real Redis and a real PostgreSQL: a creation placed on a node that died less than a
TTL ago; replica training jobs left `started` by a dead node; a node cut off from Redis
(a zombie) fencing itself off. Interactions sent into a dead owner's pipe:
test_relay_resend.py."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import websockets
from cluster_nodes import KEY, make_nodes, node_id, running_nodes
from db_servers import PostgresServer, RedisServer
from eventually import eventually
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from tcp_proxy import TcpProxy
from webhook_receiver import WebhookReceiver

from openreplica.server.replica_jobs import died
from openreplica.server.store import ReplicaJobRecord, Store

from ..server.test_ws import recv_until, say


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


async def test_a_node_cut_off_from_redis_fences_itself_off_and_its_client_goes_on_elsewhere(
    tmp_path: Path, redis_server: RedisServer, postgres: PostgresServer
) -> None:
    database = postgres.create_database(f"fence_{tmp_path.name[-20:].replace('-', '_')}")
    cluster = make_nodes(tmp_path, database, redis_server.url)
    proxy = TcpProxy(redis_server.port)  # the zombie reaches Redis only through it
    proxy.start()
    zombie, other, _ = cluster.nodes
    zombie.env["OPENREPLICA_REDIS_URL"] = f"redis://127.0.0.1:{proxy.port}/0"
    try:
        cluster.start()
        made = [cluster.create(other) for _ in range(3)]  # one on each node
        cid = next(c["conversation_id"] for c in made if c["node_id"] == node_id(zombie))
        elsewhere = next(c["conversation_id"] for c in made if c["node_id"] == node_id(other))
        seen: list[dict[str, Any]] = []
        async with (
            websockets.connect(zombie.ws_url(cid), additional_headers=KEY) as ws,
            websockets.connect(zombie.ws_url(elsewhere), additional_headers=KEY) as relayed,
        ):
            seen += await say(ws, "before the partition")
            await say(relayed, "relayed by the zombie")
            proxy.freeze()  # no heartbeat gets through: its lease runs out
            with pytest.raises(websockets.ConnectionClosed):
                async with asyncio.timeout(20):
                    while True:
                        seen.append(json.loads(await ws.recv()))
            with pytest.raises(websockets.ConnectionClosed):
                async with asyncio.timeout(20):
                    while True:
                        await relayed.recv()
        assert ws.close_code == 1012  # reconnect: another node goes on with it
        assert relayed.close_code == 1012  # its relay needs Redis: reconnect elsewhere
        assert all(m["event_type"] != "system.shutdown" for m in seen)  # not ended

        def taken_over() -> dict[str, Any] | None:
            got = other.get(f"/v2/conversations/{cid}", headers=KEY)
            return got if got["node_id"] != node_id(zombie) else None

        record = await eventually(taken_over, timeout=20, message="another node took it over")
        assert record["status"] == "active"
        last = max(m["seq"] for m in seen if "seq" in m)
        url = other.ws_url(cid, last_seq=last)
        async with websockets.connect(url, additional_headers=KEY) as ws:
            after = await say(ws, "after the partition", timeout=20)
        seqs = [m["seq"] for m in seen + after if "seq" in m]
        assert seqs == list(range(1, len(seqs) + 1))  # no gap, no duplicate

        proxy.thaw()  # back: it rejoins and serves again, but the conversation stays moved
        await eventually(
            lambda: "back in the cluster" in zombie.output(),
            timeout=20,
            message="the zombie took itself back in",
        )
        assert _load(redis_server, node_id(zombie)) == 0  # re-registered, hosting nothing
        url = zombie.ws_url(cid, last_seq=0)
        async with websockets.connect(url, additional_headers=KEY) as ws:
            replayed = await recv_until(ws, lambda m: m.get("seq") == seqs[-1], timeout=20)
        stored = other.get(f"/v2/conversations/{cid}?verbose=true", headers=KEY)
        assert stored["node_id"] == record["node_id"]
        assert [m for m in replayed if "seq" in m] == stored["events"][: len(replayed)]
        assert [e for e in stored["events"] if "seq" in e][: len(seqs)] == [
            m for m in seen + after if "seq" in m
        ]  # what the clients saw, stored as they saw it: the zombie wrote nothing after
        said = [
            e["properties"]["speech"]
            for e in stored["events"]
            if e["event_type"] == "conversation.utterance" and e["properties"]["role"] == "replica"
        ]
        assert said == ["before the partition", "after the partition"]
        assert "fencing itself off" in zombie.output()
        assert "fenced off before its last events were stored" not in zombie.output()
    finally:
        cluster.stop(signal.SIGKILL)
        proxy.stop()


async def test_redis_away_longer_than_the_lease_every_node_fences_then_takes_its_own_back(
    tmp_path: Path, redis_server: RedisServer, postgres: PostgresServer
) -> None:
    with running_nodes(tmp_path, redis_server, postgres) as cluster:
        made = cluster.create(cluster.nodes[0])
        cid, owner = made["conversation_id"], cluster.by_id(made["node_id"])
        seen: list[dict[str, Any]] = []
        async with websockets.connect(owner.ws_url(cid), additional_headers=KEY) as ws:
            seen += await say(ws, "before redis stops")
            redis_server.stop()  # for every node: none can tell it from a partition
            with pytest.raises(websockets.ConnectionClosed):
                async with asyncio.timeout(20):
                    while True:
                        seen.append(json.loads(await ws.recv()))
        assert ws.close_code == 1012
        redis_server.start()  # same port, empty
        await eventually(
            lambda: "back in the cluster" in owner.output(),
            timeout=20,
            message="the owner took its conversation back",
        )
        last = max(m["seq"] for m in seen if "seq" in m)
        url = owner.ws_url(cid, last_seq=last)
        async with websockets.connect(url, additional_headers=KEY) as ws:
            after = await say(ws, "after redis is back", timeout=20)
        seqs = [m["seq"] for m in seen + after if "seq" in m]
        assert seqs == list(range(1, len(seqs) + 1))
        record = owner.get(f"/v2/conversations/{cid}", headers=KEY)
        assert record["status"] == "active" and record["node_id"] == made["node_id"]
