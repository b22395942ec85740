"""Three real nodes whose Redis, and then everything, is restarted.

- Redis stopped (by pid) and started again on the same port, empty, within the nodes'
  TTL: placements fail while it is away and a direct connection goes on; once it is
  back the nodes re-register with their load counted from PostgreSQL, new placements
  spread, and the live conversation goes on, relayed clients resuming by `last_seq`
  without a gap.
- Every node, Redis and PostgreSQL stopped and started again: REST shows every persona,
  conversation and event as before (PostgreSQL is the store of truth).
"""

from __future__ import annotations

import collections
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
import websockets
from cluster_nodes import Nodes, make_nodes, node_id
from db_servers import PostgresServer, RedisServer
from eventually import eventually

from ..server.test_ws import is_type, recv_until, say

KEY = {"x-api-key": "k-restarts"}


def _nodes(root: Path, database: str, redis_url: str) -> Nodes:
    # a TTL longer than Redis is away here: a node fences itself off when it has had no
    # heartbeat for about a TTL (server/fencing.py; Redis away longer than that:
    # test_failure_edges.py), and this restart is meant to be the short kind
    env = {"OPENREPLICA_NODE_TTL": "30"}
    return make_nodes(root, database, redis_url, capacity=None, api_key=KEY["x-api-key"], env=env)


def _registered(redis_server: RedisServer) -> dict[str, int]:
    """node id -> load, as the registry in Redis has it."""
    with redis.Redis.from_url(redis_server.url) as r:
        found = {}
        for key in r.keys("or:node:*"):
            load = r.hget(key, "load")
            found[key.decode().removeprefix("or:node:")] = int(load or 0)
        return found


@pytest.fixture
def nodes(tmp_path: Path, redis_server: RedisServer, postgres: PostgresServer) -> Iterator[Nodes]:
    database = postgres.create_database(f"restarts_{tmp_path.name[-20:].replace('-', '_')}")
    made = _nodes(tmp_path, database, redis_server.url)
    try:
        made.start()
        yield made
    finally:
        made.stop(signal.SIGKILL)


async def test_redis_restarted_mid_run_loses_no_node_and_no_conversation(
    nodes: Nodes, redis_server: RedisServer
) -> None:
    live = nodes.nodes[0].post("/v2/conversations", {}, headers=KEY)
    cid, owner_id = live["conversation_id"], live["node_id"]
    owner, relay = nodes.by_id(owner_id), nodes.other_than(owner_id)
    async with websockets.connect(owner.ws_url(cid), additional_headers=KEY) as direct:
        before = await say(direct, "before redis stops")
        seen = max(m["seq"] for m in before if "seq" in m)

        redis_server.stop()
        down = httpx.post(relay.url + "/v2/conversations", json={}, headers=KEY, timeout=30)
        assert down.status_code >= 500  # placement needs Redis: a clear failure, no hang
        during = await say(direct, "while redis is away")  # the owner needs no Redis
        assert min(m["seq"] for m in during if "seq" in m) == seen + 1

        redis_server.start()  # same port, empty
        registered = await eventually(
            lambda: (r := _registered(redis_server)) and len(r) == 3 and r,
            timeout=15,
            message="the nodes re-registered",
        )
        assert registered == {node_id(n): int(node_id(n) == owner_id) for n in nodes.nodes}

        placed = [nodes.nodes[i % 3].post("/v2/conversations", {}, headers=KEY) for i in range(4)]
        per_node = collections.Counter(p["node_id"] for p in placed)
        assert sum(per_node.values()) == 4 and len(per_node) == 3  # spread over all three
        assert per_node[owner_id] == 1  # it already hosted one: the others got two each

        after = await say(direct, "after redis is back")
    last = max(m["seq"] for m in after if "seq" in m)

    # a relayed client resuming by last_seq sees every event once, in order
    async with websockets.connect(relay.ws_url(cid, last_seq=0), additional_headers=KEY) as ws:
        replayed = await recv_until(ws, lambda m: m.get("seq") == last)
        again = await say(ws, "relayed after the restart")
    seqs = [m["seq"] for m in replayed + again if "seq" in m]
    assert seqs == list(range(1, len(seqs) + 1))
    assert any(m.get("properties", {}).get("speech") == "while redis is away" for m in replayed)


async def test_everything_restarted_keeps_all_data(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    postgres = PostgresServer(tmp_path / "pg")
    postgres.start()
    nodes = _nodes(tmp_path, postgres.create_database("everything"), redis_server.url)
    try:
        nodes.start()
        first = nodes.nodes[0]
        persona = first.post(
            "/v2/personas", {"persona_name": "Kept", "system_prompt": "stay"}, headers=KEY
        )
        made = [
            nodes.nodes[i].post(
                "/v2/conversations", {"persona_id": persona["persona_id"]}, headers=KEY
            )
            for i in range(3)
        ]
        for i, conversation in enumerate(made):
            cid = conversation["conversation_id"]
            # through a node that does not host it, so the relay path is stored too
            via = nodes.other_than(conversation["node_id"])
            async with websockets.connect(via.ws_url(cid), additional_headers=KEY) as ws:
                await say(ws, f"remember {i}")
        first.post(f"/v2/conversations/{made[0]['conversation_id']}/end", headers=KEY)
        before = {
            c["conversation_id"]: first.get(
                f"/v2/conversations/{c['conversation_id']}?verbose=true", headers=KEY
            )
            for c in made
        }

        nodes.stop(signal.SIGTERM)  # drained: the two live ones end as server_shutdown
        redis_server.stop()
        postgres.stop(keep_data=True)
        postgres.start()
        redis_server.start()
        nodes.start()

        for node in nodes.nodes:
            got = node.get(f"/v2/personas/{persona['persona_id']}", headers=KEY)
            assert got["persona_name"] == "Kept" and got["system_prompt"] == "stay"
            listed = node.get("/v2/conversations?limit=100", headers=KEY)
            assert {c["conversation_id"] for c in listed["data"]} == set(before)
            for cid, was in before.items():
                now = node.get(f"/v2/conversations/{cid}?verbose=true", headers=KEY)
                assert now["events"][: len(was["events"])] == was["events"]
                assert now["status"] == "ended"
                assert now["persona_id"] == persona["persona_id"]
                assert any(
                    e["event_type"] == "conversation.utterance"
                    and e["properties"].get("speech", "").startswith("remember")
                    for e in now["events"]
                )
        reasons = {
            cid: nodes.nodes[1].get(f"/v2/conversations/{cid}", headers=KEY)["shutdown_reason"]
            for cid in before
        }
        assert reasons[made[0]["conversation_id"]] == "end_conversation_endpoint_hit"
        assert {reasons[c["conversation_id"]] for c in made[1:]} == {"server_shutdown"}
        # and the cluster works again: a new conversation, driven through a relay
        fresh = first.post("/v2/conversations", {"persona_id": persona["persona_id"]}, headers=KEY)
        via = nodes.other_than(fresh["node_id"])
        async with websockets.connect(
            via.ws_url(fresh["conversation_id"]), additional_headers=KEY
        ) as ws:
            joined = await recv_until(ws, is_type("system.replica_joined"))
            assert joined[-1]["seq"] >= 1
    finally:
        nodes.stop(signal.SIGKILL)
        postgres.stop()
