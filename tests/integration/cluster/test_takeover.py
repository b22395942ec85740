"""A node killed (-9) in the middle of a reply: another node takes its conversation over
from the saved state and the event stream, and a client relayed through a third node
sees every event exactly once and goes on talking. Also: events that reached the stream
but not the database survive the owner, and when no node has room the conversation ends
as `node_failed`; a dead node's conversations spread over the survivors (three real
node processes, real Redis and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import websockets
from cluster_nodes import KEY, Nodes, node_id, running_nodes
from db_servers import PostgresServer, RedisServer, stored_event_count
from eventually import eventually
from server_process import ServerProcess
from websockets.asyncio.client import ClientConnection

from openreplica.client import ReplicaClient
from openreplica.protocol import Event, encode

from ..server.test_ws import echo, is_type, recv_until, say

LONG = " ".join(f"word{i}" for i in range(40))  # the echoing LLM's reply: ~8 s of speech


CAPACITY = 2


@dataclass
class Cluster(Nodes):
    redis: RedisServer | None = None

    def load(self, node_id: str) -> int:
        """The node's placement count in the registry (-1: not registered)."""
        assert self.redis is not None
        value = redis.Redis(port=self.redis.port).hget(f"or:node:{node_id}", "load")
        return int(value) if value is not None else -1


@contextmanager
def three_nodes(
    tmp_path: Path, redis_server: RedisServer, postgres: PostgresServer, **env: str
) -> Iterator[Cluster]:
    with running_nodes(tmp_path, redis_server, postgres, capacity=CAPACITY, env=env) as nodes:
        yield Cluster(nodes.nodes, nodes.database, redis_server)


@pytest.fixture
def cluster(
    tmp_path: Path, redis_server: RedisServer, postgres: PostgresServer
) -> Iterator[Cluster]:
    with three_nodes(tmp_path, redis_server, postgres) as nodes:
        yield nodes


Msg = dict[str, Any]


def _long_lived(cluster: Cluster) -> tuple[str, str, ServerProcess]:
    """A conversation that outlives its clients for a while: its id, its owner's id and
    a node that relays to it."""
    conversation = cluster.create(cluster.nodes[0], properties={"participant_left_timeout": 600})
    cid, owner = conversation["conversation_id"], conversation["node_id"]
    return cid, owner, cluster.other_than(owner)


async def _into_a_long_reply(ws: ClientConnection) -> list[Msg]:
    """Ask for the ~8 s reply; what came up to its first streamed piece."""
    await ws.send(echo(LONG))
    return await recv_until(ws, lambda m: m["event_type"] == "conversation.utterance.streaming")


async def _cut_then_on(ws: ClientConnection, text: str) -> tuple[list[Msg], list[Msg]]:
    """After the owner died mid-reply: the cut utterance ends (interrupted), then `text`
    is said back; what came for each."""
    cut = await recv_until(ws, is_type("conversation.stopped_speaking"), timeout=20)
    assert cut[-1]["properties"]["interrupted"] is True
    return cut, await say(ws, text, timeout=20)


def _of_reply(events: list[Msg], turn: int, name: str) -> Msg | None:
    return next((e for e in events if e["event_type"] == name and e.get("turn_idx") == turn), None)


async def test_a_killed_owner_mid_reply_is_taken_over_and_the_client_sees_every_event_once(
    cluster: Cluster,
) -> None:
    cid, owner, relay = _long_lived(cluster)
    events: list[Msg] = []  # as the client's conversation hands them over, in order
    async with ReplicaClient(relay.url, api_key=KEY["x-api-key"]) as client:
        conv = await client.connect(cid, last_seq=0)

        async def collect() -> None:
            async for event in conv:
                assert isinstance(event, Event), event  # every event type is known
                events.append(json.loads(encode(event)))

        collector = asyncio.create_task(collect())
        await conv.respond(LONG)
        speaking = await eventually(
            lambda: _of_reply(events, 1, "conversation.utterance.streaming"),
            timeout=20,
            message="the replica started its reply",
        )
        killed_at = time.monotonic()
        cluster.by_id(owner).stop(signal.SIGKILL)
        stopped = await eventually(
            lambda: _of_reply(events, 1, "conversation.replica.stopped_speaking"),
            timeout=20,
            message="the cut reply was ended",
        )
        takeover = time.monotonic() - killed_at
        assert stopped["inference_id"] == speaking["inference_id"]
        assert stopped["properties"]["interrupted"] is True
        new_owner = relay.get(f"/v2/conversations/{cid}", headers=KEY)["node_id"]
        assert new_owner != owner

        await conv.respond("are you still there")  # the new owner answers
        answered = await eventually(
            lambda: _of_reply(events, 2, "conversation.replica.stopped_speaking"),
            timeout=20,
            message="the new owner replied in turn 2",
        )
        assert answered["properties"]["interrupted"] is False
        await conv.close()
        collector.cancel()
        await asyncio.gather(collector, return_exceptions=True)

    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1))  # no gap, no duplicate
    assert conv.skipped_gaps == []
    assert conv.duplicates_dropped == 0  # not even on the wire
    said = [
        e["properties"]["speech"]
        for e in events
        if e["event_type"] == "conversation.utterance" and e["properties"]["role"] == "replica"
    ]
    assert said[-1] == "You said: are you still there"
    # the cut reply ends, once, with the words heard of it, as an interruption
    final = [
        e
        for e in events
        if e["event_type"] == "conversation.utterance.streaming"
        and e.get("inference_id") == speaking["inference_id"]
        and e["properties"]["final"]
    ]
    assert len(final) == 1 and final[0]["properties"]["is_interrupted"] is True
    heard = [  # what the dead node had streamed of it: what the listener heard
        e["properties"]["speech"]
        for e in events
        if e["event_type"] == "conversation.utterance.streaming"
        and e.get("inference_id") == speaking["inference_id"]
        and not e["properties"]["final"]
    ]
    assert final[0]["properties"]["speech"] == heard[-1]
    assert f"You said: {LONG}".startswith(heard[-1])

    for node in cluster.nodes:  # every survivor stores exactly what the client saw
        if node is cluster.by_id(owner):
            continue
        stored = node.get(f"/v2/conversations/{cid}?verbose=true", headers=KEY)
        assert stored["status"] == "active" and stored["node_id"] == new_owner
        assert stored["events"][: len(events)] == events
        assert [e["seq"] for e in stored["events"]] == list(range(1, len(stored["events"]) + 1))
    assert cluster.load(new_owner) == 1  # the placement count moved with it
    assert takeover < 10, f"takeover took {takeover:.1f} s"


async def test_events_in_the_stream_survive_the_owner_before_the_database_has_them(
    tmp_path: Path, redis_server: RedisServer, postgres: PostgresServer
) -> None:
    slow_db = {"OPENREPLICA_TESTING_EVENT_WRITE_DELAY": "8"}
    with three_nodes(tmp_path, redis_server, postgres, **slow_db) as cluster:
        cid, owner, relay = _long_lived(cluster)
        async with websockets.connect(relay.ws_url(cid), additional_headers=KEY) as ws:
            seen = await _into_a_long_reply(ws)
            cluster.by_id(owner).stop(signal.SIGKILL)
            # the window: clients have them, the database not; a read on any node has
            # them all the same (the stream's newest over the stored ones)
            assert await stored_event_count(cluster.database, cid) < len(seen)
            stored = relay.get(f"/v2/conversations/{cid}?verbose=true", headers=KEY)["events"]
            assert stored[: len(seen)] == seen

            # the relayed socket stays open: the cut utterance ends, then it goes on
            cut, after = await _cut_then_on(ws, "after the crash")
            seen += cut
        received = seen + after
        assert [m["seq"] for m in received] == list(range(1, len(received) + 1))

        def stored_all() -> list[dict[str, Any]] | None:
            # on the new owner a verbose read waits for its (delayed) writer too
            url = f"/v2/conversations/{cid}?verbose=true"
            got = relay.get(url, headers=KEY, timeout=60)["events"]
            return got if len(got) >= len(received) else None

        events = await eventually(stored_all, timeout=60, message="all events stored")
        assert events[: len(seen)] == seen  # the unwritten ones, exactly as broadcast
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


async def test_when_no_node_has_room_a_dead_nodes_conversation_ends_as_node_failed(
    cluster: Cluster,
) -> None:
    created = [cluster.create(cluster.nodes[i % 3]) for i in range(3 * CAPACITY)]
    conversation = created[0]
    cid, owner = conversation["conversation_id"], conversation["node_id"]
    relay = cluster.other_than(owner)
    async with websockets.connect(relay.ws_url(cid), additional_headers=KEY) as ws:
        await ws.send(echo("before the crash"))
        seen = await recv_until(ws, is_type("conversation.stopped_speaking"))
        cluster.by_id(owner).stop(signal.SIGKILL)
        # every survivor is full: the relayed client gets the end, then 4410
        last = await recv_until(ws, is_type("system.shutdown"), timeout=20)
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 4410
    assert last[-1]["properties"]["shutdown_reason"] == "node_failed"
    assert [m["seq"] for m in seen + last] == list(range(1, len(seen) + len(last) + 1))
    for node in cluster.nodes:
        if node is cluster.by_id(owner):
            continue
        got = node.get(f"/v2/conversations/{cid}?verbose=true", headers=KEY)
        assert got["status"] == "ended" and got["shutdown_reason"] == "node_failed"
        assert got["events"] == seen + last
        async with websockets.connect(
            node.ws_url(cid, last_seq=last[-1]["seq"]), additional_headers=KEY
        ) as again:
            with pytest.raises(websockets.ConnectionClosed):
                await again.recv()
            assert again.close_code == 4410


async def test_a_dead_nodes_conversations_spread_over_the_survivors(cluster: Cluster) -> None:
    created = [cluster.create(cluster.nodes[0]) for _ in range(2 * CAPACITY)]
    per_node: dict[str, list[str]] = {}
    for made in created:
        per_node.setdefault(made["node_id"], []).append(made["conversation_id"])
    dead = next(n for n, cids in per_node.items() if len(cids) == CAPACITY)
    survivors = cluster.others(dead)
    cluster.by_id(dead).stop(signal.SIGKILL)

    def hosts() -> set[str] | None:
        got = {
            survivors[0].get(f"/v2/conversations/{c}", headers=KEY)["node_id"]
            for c in per_node[dead]
        }
        return got if dead not in got else None

    moved = await eventually(hosts, timeout=20, message="the dead node's conversations moved")
    assert moved == {node_id(n) for n in survivors}  # one each, not both on one
    assert [cluster.load(node_id(n)) for n in survivors] == [CAPACITY, CAPACITY]


async def test_a_node_restarted_with_its_id_continues_its_conversations(
    tmp_path: Path, redis_server: RedisServer, postgres: PostgresServer
) -> None:
    # a TTL long enough that the node is back before anyone declares it dead
    with three_nodes(tmp_path, redis_server, postgres, OPENREPLICA_NODE_TTL="60") as cluster:
        cid, owner, relay = _long_lived(cluster)
        async with websockets.connect(relay.ws_url(cid), additional_headers=KEY) as ws:
            seen = await _into_a_long_reply(ws)
            cluster.by_id(owner).stop(signal.SIGKILL)
            cluster.by_id(owner).start()  # same id and port, a new process
            cut, after = await _cut_then_on(ws, "after the restart")
            seen += cut + after
        assert [m["seq"] for m in seen] == list(range(1, len(seen) + 1))
        record = relay.get(f"/v2/conversations/{cid}", headers=KEY)
        assert record["status"] == "active" and record["node_id"] == owner
        assert cluster.load(owner) == 1  # counted once, not again
