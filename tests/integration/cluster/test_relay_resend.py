"""Interactions a relayed client sends after the owner died and before the relay moved to
the node that took the conversation over reach the new owner, each handled once (three
real node processes, real Redis and PostgreSQL; server/relay_resend.py)."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import websockets
from cluster_nodes import KEY, running_nodes
from db_servers import PostgresServer, RedisServer

from ..server.test_ws import echo, recv_until

Msg = dict[str, Any]


def _said(text: str) -> Callable[[Msg], bool]:
    return lambda m: (
        m["event_type"] == "conversation.utterance"
        and m["properties"]["role"] == "replica"
        and m["properties"]["speech"] == text
    )


async def test_interactions_sent_into_a_dead_owners_pipe_reach_the_new_owner_once(
    tmp_path: Path, redis_server: RedisServer, postgres: PostgresServer
) -> None:
    with running_nodes(tmp_path, redis_server, postgres, capacity=2) as cluster:
        made = cluster.create(cluster.nodes[0], properties={"participant_left_timeout": 600})
        cid, owner = made["conversation_id"], made["node_id"]
        relay = cluster.other_than(owner)
        async with websockets.connect(relay.ws_url(cid), additional_headers=KEY) as ws:
            await ws.send(echo("before"))
            seen = await recv_until(ws, _said("before"))
            # its reply over: long acknowledged (one handled within a Redis round trip of
            # the death may be handled twice: docs/scaling.md)
            seen += await recv_until(
                ws, lambda m: m["event_type"] == "conversation.stopped_speaking"
            )
            cluster.by_id(owner).stop(signal.SIGKILL)
            # into the dead owner's pipe: nobody reads it any more (one: a second echo
            # handled at once would cut the first before its utterance)
            await ws.send(echo("into the dead pipe"))
            seen += await recv_until(ws, _said("into the dead pipe"), timeout=30)
            await ws.send(echo("after"))
            seen += await recv_until(ws, _said("after"), timeout=30)
        stored = relay.get(f"/v2/conversations/{cid}?verbose=true", headers=KEY)
        assert stored["node_id"] != owner  # taken over
    replica_said = [
        m["properties"]["speech"]
        for m in stored["events"]
        if m["event_type"] == "conversation.utterance" and m["properties"]["role"] == "replica"
    ]
    assert replica_said == ["before", "into the dead pipe", "after"]  # once each
    seqs = [m["seq"] for m in seen if "seq" in m]
    assert seqs == list(range(1, len(seqs) + 1))  # what the client saw: no gap, no duplicate
