"""Failure edges of a cluster (docs/scaling.md, failure model), on real node processes,
a real Redis and a real PostgreSQL: a creation placed on a node that died less than a
TTL ago; replica training jobs left `started` by a dead node; a node cut off from Redis
(a zombie) fencing itself off. Interactions sent into a dead owner's pipe:
test_relay_resend.py."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import redis
from cluster_nodes import KEY, node_id, running_nodes
from db_servers import PostgresServer, RedisServer


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
