"""SIGTERM on a cluster node in the middle of a reply: it hands its conversation to
another node (server/drain.py) instead of ending it. A client relayed through another
node and a client connected to the draining node itself (behind a balancer) both go on
on the new owner, seeing every `seq` exactly once; the new owner answers; the draining
process exits within its bound. When no node has room, the conversation ends as before
(`system.shutdown` `server_shutdown`). Three real node processes, real Redis and
PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from typing import Any

import pytest
import websockets
from balancer import balancer
from cluster_nodes import KEY, node_id
from eventually import eventually

from openreplica.client import Conversation, ReplicaClient
from openreplica.protocol import Event, encode

from ..server.test_ws import echo, is_type, recv_until
from .test_takeover import CAPACITY, LONG, Cluster, _long_lived, _of_reply
from .test_takeover import cluster as cluster  # the fixture

Msg = dict[str, Any]

#: what a draining node may take, at most: the handovers (HANDOVER_BOUND), ending what
#: is left (SHUTDOWN_CLOSE_GRACE), relays settling, the webhook grace (docs/scaling.md)
DRAIN_BOUND = 15.0
#: a node's exit status after SIGTERM (uvicorn re-raises the signal once it has stopped),
#: not -9: `ServerProcess.stop` kills what is left after 15 s
STOPPED = (0, -signal.SIGTERM)


def _collect(conv: Conversation, into: list[Msg]) -> asyncio.Task[None]:
    async def collect() -> None:
        async for event in conv:
            assert isinstance(event, Event), event  # every event type is known
            into.append(json.loads(encode(event)))

    return asyncio.create_task(collect())


async def _reply_event(events: list[Msg], turn: int, name: str, message: str) -> Msg:
    def found() -> Msg | None:
        return _of_reply(events, turn, name)

    return await eventually(found, timeout=20, message=message)


def _gapless(events: list[Msg]) -> None:
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1)), seqs  # no gap, no duplicate


async def test_a_sigtermed_owner_hands_its_conversation_over_and_both_clients_go_on(
    cluster: Cluster,
) -> None:
    cid, owner, relay = _long_lived(cluster)
    draining = cluster.by_id(owner)
    others = cluster.others(owner)
    relayed: list[Msg] = []
    direct: list[Msg] = []
    async with (
        balancer([draining.port, *(n.port for n in others)]) as front,
        ReplicaClient(relay.url, api_key=KEY["x-api-key"]) as via_relay,
        ReplicaClient(front.url, api_key=KEY["x-api-key"]) as via_front,
    ):
        conv_r = await via_relay.connect(cid, last_seq=0)
        conv_d = await via_front.connect(cid, last_seq=0)
        assert front.routed == [draining.port]  # the direct client is on the owner
        tasks = [_collect(conv_r, relayed), _collect(conv_d, direct)]
        await conv_r.respond(LONG)
        for events in (relayed, direct):
            await _reply_event(
                events, 1, "conversation.utterance.streaming", "both clients hear the reply"
            )
        started = time.monotonic()
        assert draining.process is not None
        stopping = asyncio.create_task(asyncio.to_thread(draining.stop, signal.SIGTERM))
        for events in (relayed, direct):
            stopped = await _reply_event(
                events, 1, "conversation.replica.stopped_speaking", "the cut reply ended for both"
            )
            assert stopped["properties"]["interrupted"] is True
        await stopping
        exited = time.monotonic() - started
        assert draining.process.returncode in STOPPED, draining.output()[-3000:]
        assert exited < DRAIN_BOUND, f"the draining node took {exited:.1f} s to exit"

        record = relay.get(f"/v2/conversations/{cid}", headers=KEY)
        new_owner = record["node_id"]
        assert record["status"] == "active" and new_owner != owner
        assert new_owner in {node_id(n) for n in others}

        await conv_d.respond("are you still there")  # sent by the client that moved
        for events in (relayed, direct):
            answered = await _reply_event(
                events, 2, "conversation.replica.stopped_speaking", "the new owner replied"
            )
            assert answered["properties"]["interrupted"] is False
        # the direct client reconnected, through the balancer, to a node still serving
        assert conv_d.reconnects >= 1
        assert front.routed[0] == draining.port
        assert front.routed[1:] and draining.port not in front.routed[1:]
        assert conv_r.reconnects == 0  # the relayed socket stayed open
        for conv in (conv_r, conv_d):
            await conv.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    for events, conv in ((relayed, conv_r), (direct, conv_d)):
        _gapless(events)
        assert conv.skipped_gaps == []
        said = [
            e["properties"]["speech"]
            for e in events
            if e["event_type"] == "conversation.utterance" and e["properties"]["role"] == "replica"
        ]
        assert said[-1] == "You said: are you still there"
    assert relayed == direct[: len(relayed)] or direct == relayed[: len(direct)]
    stored = relay.get(f"/v2/conversations/{cid}?verbose=true", headers=KEY)["events"]
    assert stored[: len(relayed)] == relayed
    # the cut reply ends once, as an interruption with the words heard of it
    finals = [
        e
        for e in relayed
        if e["event_type"] == "conversation.utterance.streaming"
        and e.get("turn_idx") == 1
        and e["properties"]["final"]
    ]
    assert len(finals) == 1 and finals[0]["properties"]["is_interrupted"] is True
    assert f"You said: {LONG}".startswith(finals[0]["properties"]["speech"])
    assert not any(e["event_type"] == "system.shutdown" for e in relayed)
    assert f"{cid}: node draining; handed over to {new_owner}" in draining.output()
    assert cluster.load(new_owner) == 1  # the placement count moved with it


async def test_with_no_room_elsewhere_a_drained_conversation_ends_as_server_shutdown(
    cluster: Cluster,
) -> None:
    created = [cluster.create(cluster.nodes[i % 3]) for i in range(3 * CAPACITY)]
    cid, owner = created[0]["conversation_id"], created[0]["node_id"]
    draining, relay = cluster.by_id(owner), cluster.other_than(owner)
    async with (
        websockets.connect(relay.ws_url(cid), additional_headers=KEY) as relayed,
        websockets.connect(draining.ws_url(cid), additional_headers=KEY) as direct,
    ):
        await relayed.send(echo("before the stop"))
        seen = await recv_until(relayed, is_type("conversation.stopped_speaking"))
        stopping = asyncio.create_task(asyncio.to_thread(draining.stop, signal.SIGTERM))
        ends = []
        for ws in (relayed, direct):
            last = await recv_until(ws, is_type("system.shutdown"), timeout=20)
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
            assert ws.close_code == 4410
            assert last[-1]["properties"]["shutdown_reason"] == "server_shutdown"
            ends.append(last)
        await stopping
    assert draining.process is not None and draining.process.returncode in STOPPED
    relayed_all = seen + ends[0]
    assert [m["seq"] for m in relayed_all] == list(range(1, len(relayed_all) + 1))
    got = relay.get(f"/v2/conversations/{cid}?verbose=true", headers=KEY)
    assert got["status"] == "ended" and got["shutdown_reason"] == "server_shutdown"
    assert got["events"] == relayed_all
    assert f"{cid}: node draining; no node could take it: ended" in draining.output()
