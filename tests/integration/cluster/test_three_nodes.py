"""Three real node processes on loopback, one real Redis and one real PostgreSQL:
placement spreads conversations and refuses with 503 when full, a client on one node
drives a conversation another node hosts, every node replays and reads the same events.
What happens when a node dies: test_takeover.py."""

from __future__ import annotations

import collections
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets
from cluster_nodes import KEY, Nodes, node_id, running_nodes
from db_servers import PostgresServer, RedisServer, stored_event_count

from ..server.test_ws import echo, is_type, recv_until

CAPACITY = 2


@pytest.fixture
def cluster(tmp_path: Path, redis_server: RedisServer, postgres: PostgresServer) -> Iterator[Nodes]:
    with running_nodes(tmp_path, redis_server, postgres, capacity=CAPACITY) as nodes:
        yield nodes


async def test_placement_spreads_conversations_and_a_full_cluster_answers_503(
    cluster: Nodes,
) -> None:
    created = [cluster.create(cluster.nodes[i % 3]) for i in range(3 * CAPACITY)]
    per_node = collections.Counter(c["node_id"] for c in created)
    assert per_node == {node_id(n): CAPACITY for n in cluster.nodes}

    full = httpx.post(cluster.nodes[1].url + "/v2/conversations", json={}, headers=KEY)
    assert full.status_code == 503
    assert "every node of the cluster is at capacity" in full.json()["error"]

    # ending one frees its node's slot, whichever node the end was asked of
    ended = created[0]
    cluster.other_than(ended["node_id"]).post(
        f"/v2/conversations/{ended['conversation_id']}/end", headers=KEY
    )
    again = cluster.create(cluster.nodes[2])
    assert again["node_id"] == ended["node_id"]
    for node in cluster.nodes:  # REST reads answer the same on every node
        got = node.get(f"/v2/conversations/{ended['conversation_id']}", headers=KEY)
        assert got["status"] == "ended"
        assert got["shutdown_reason"] == "end_conversation_endpoint_hit"
        listed = node.get("/v2/conversations?limit=100", headers=KEY)
        assert listed["total_count"] == 3 * CAPACITY + 1


async def test_a_client_on_one_node_drives_a_conversation_another_node_hosts(
    cluster: Nodes,
) -> None:
    conversation = cluster.create(cluster.nodes[0])
    cid, owner = conversation["conversation_id"], conversation["node_id"]
    relay = cluster.other_than(owner)
    async with websockets.connect(relay.ws_url(cid), additional_headers=KEY) as ws:
        joined = await recv_until(ws, is_type("system.replica_joined"))
        await ws.send(echo("hello through the relay"))
        said = await recv_until(ws, is_type("conversation.stopped_speaking"))
        await ws.send("{not json")  # errors come back through the relay too
        error = await recv_until(ws, is_type("system.error"))
    live = [m for m in joined + said if "seq" in m]
    seqs = [m["seq"] for m in live]
    assert seqs == list(range(1, len(seqs) + 1))  # gapless, from the owner's sequencer
    assert any(
        m["event_type"] == "conversation.utterance"
        and m["properties"]["speech"] == "hello through the relay"
        for m in live
    )
    assert error[-1]["properties"]["code"] == "invalid_json"

    # replay from every node (the owner directly, the others through the relay)
    for node in cluster.nodes:
        async with websockets.connect(node.ws_url(cid, last_seq=0), additional_headers=KEY) as ws:
            replayed = await recv_until(ws, lambda m: m.get("seq") == seqs[-1])
        assert [m["seq"] for m in replayed] == seqs
        assert replayed == live
        verbose = node.get(f"/v2/conversations/{cid}?verbose=true", headers=KEY)
        assert verbose["events"][: len(live)] == live

    # the end, asked of a third node, reaches the relayed client as system.shutdown + 4410
    async with websockets.connect(relay.ws_url(cid), additional_headers=KEY) as ws:
        third = next(n for n in cluster.nodes if n not in (relay, cluster.by_id(owner)))
        third.post(f"/v2/conversations/{cid}/end", headers=KEY)
        last = await recv_until(ws, is_type("system.shutdown"))
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 4410
    assert last[-1]["seq"] > seqs[-1]


async def test_every_node_reads_the_events_the_owner_has_not_stored_yet(
    tmp_path: Path, redis_server: RedisServer, postgres: PostgresServer
) -> None:
    # the owner's writer holds each batch back 8 s: the database lags what was broadcast
    slow_db = {"OPENREPLICA_TESTING_EVENT_WRITE_DELAY": "8"}
    with running_nodes(tmp_path, redis_server, postgres, capacity=CAPACITY, env=slow_db) as nodes:
        conversation = nodes.create(nodes.nodes[0])
        cid, owner = conversation["conversation_id"], conversation["node_id"]
        relay = nodes.other_than(owner)
        async with websockets.connect(relay.ws_url(cid), additional_headers=KEY) as ws:
            joined = await recv_until(ws, is_type("system.replica_joined"))
            await ws.send(echo("read me anywhere"))
            said = await recv_until(ws, is_type("conversation.stopped_speaking"))
        live = [m for m in joined + said if "seq" in m]
        for node in nodes.nodes:
            if node is nodes.by_id(owner):
                continue  # its read would wait for its own (delayed) writer
            verbose = node.get(f"/v2/conversations/{cid}?verbose=true", headers=KEY)
            assert verbose["events"][: len(live)] == live
            assert any(t["content"] == "read me anywhere" for t in verbose["transcript"])
        # the window was there: the database had not got them all
        assert await stored_event_count(nodes.database, cid) < len(live)
