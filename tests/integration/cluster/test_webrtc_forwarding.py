"""A WebRTC offer posted to a node that does not host the conversation is forwarded to
the owner, whose answer (and ICE candidates) reach the client: the data channel and the
replica's media flow between the client and the owner directly, and a client that loses
its peer connection renegotiates through the same node and resumes by `last_seq`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from cluster_nodes import API_KEY, KEY, Nodes, running_nodes
from db_servers import PostgresServer, RedisServer
from eventually import eventually
from requires import require_module
from server_process import ServerProcess

from openreplica.client import ReplicaClient
from openreplica.client.webrtc import WebRTCConnection, WebRTCTransport

require_module("aiortc", "pip install openreplica  # aiortc is a dependency")


@pytest.fixture
def nodes(tmp_path: Path, redis_server: RedisServer, postgres: PostgresServer) -> Iterator[Nodes]:
    from openreplica.transports.webrtc import enable_loopback_candidates

    # aioice leaves 127.0.0.1 out of this process's host candidates; in the tests'
    # loopback-only network namespace that is the only address there is.
    enable_loopback_candidates()
    with running_nodes(tmp_path, redis_server, postgres) as started:
        yield started


class RecordingTransport(WebRTCTransport):
    """The client's WebRTC transport, keeping every answer and connection it made."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.answers: list[dict[str, Any]] = []
        self.connections: list[WebRTCConnection] = []
        self.loudest = 0  # largest audio sample heard on any replica audio track
        self._readers: set[asyncio.Task[None]] = set()
        self.on_track = self._listen

    async def connect(self, last_seq: int | None) -> WebRTCConnection:
        connection = await super().connect(last_seq)
        self.connections.append(connection)
        return connection

    async def _exchange(self, sdp: str) -> dict[str, Any]:
        answer = await super()._exchange(sdp)
        self.answers.append(answer)
        return answer

    def _listen(self, track: Any) -> None:
        if track.kind == "audio":
            task = asyncio.create_task(self._read_audio(track))
            self._readers.add(task)
            task.add_done_callback(self._readers.discard)

    async def _read_audio(self, track: Any) -> None:
        with contextlib.suppress(Exception):  # the track ends with its peer connection
            while True:
                frame = await track.recv()
                self.loudest = max(self.loudest, int(np.abs(frame.to_ndarray()).max()))

    async def stop(self) -> None:
        for task in list(self._readers):
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)


def candidate_ports(sdp: str) -> set[int]:
    """The UDP ports of the host candidates in an SDP."""
    ports = set()
    for line in sdp.splitlines():
        match = re.match(r"a=candidate:\S+ \d+ udp \d+ \S+ (\d+) typ host", line, re.IGNORECASE)
        if match:
            ports.add(int(match[1]))
    return ports


def udp_ports_of(pid: int) -> set[int]:
    """The UDP ports bound by the sockets of process `pid` (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def pid(node: ServerProcess) -> int:
    assert node.process is not None
    return node.process.pid


async def test_an_offer_to_another_node_is_answered_by_the_owner_and_media_flows_to_it(
    nodes: Nodes,
) -> None:
    created = await asyncio.to_thread(nodes.create, nodes.nodes[0], require_auth=True)
    cid, owner_id = created["conversation_id"], created["node_id"]
    owner = nodes.by_id(owner_id)
    relay, third = nodes.others(owner_id)

    # a wrong meeting token is refused through the relay as it is on the owner
    async with httpx.AsyncClient(trust_env=False) as http:
        refused = await http.post(
            f"{relay.url}/v2/conversations/{cid}/webrtc/offer?t=wrong",
            json={"sdp": "v=0", "type": "offer"},
        )
    assert refused.status_code == 401

    # the page and the client work through any node: a meeting-token client on `relay`
    async with httpx.AsyncClient(trust_env=False) as http:
        page = await http.get(f"{relay.url}/c/{cid}")
    assert page.status_code == 200 and "<html" in page.text.lower()
    async with ReplicaClient(relay.url) as client:
        link = RecordingTransport(client.target(created))
        conv = await client.connect(created, last_seq=0, transport=link)
        try:
            said = await asyncio.wait_for(conv.say("through another node"), 30)
            assert said.heard == "through another node" and said.done
            assert sorted(track.kind for track in link.tracks) == ["audio", "video"]
            await eventually(lambda: link.loudest > 0, timeout=10, message="the replica's voice")

            # the answer's candidates are the owner's sockets: media goes to the owner
            ports = candidate_ports(link.answers[0]["sdp"])
            assert ports, link.answers[0]["sdp"]
            assert ports <= udp_ports_of(pid(owner))
            assert not ports & (udp_ports_of(pid(relay)) | udp_ports_of(pid(third)))
            assert link.answers[0]["replica_id"] == created["replica_id"]

            # the page's config after joining: what the owner knows of the live replica
            token = created["meeting_token"]
            async with httpx.AsyncClient(trust_env=False) as http:
                config = (await http.get(f"{relay.url}/c/{cid}/config?t={token}")).json()
                direct = (await http.get(f"{owner.url}/c/{cid}/config?t={token}")).json()
            assert isinstance(direct["listening"], bool)
            assert config == direct

            # the peer connection is lost: the client renegotiates through `relay` again
            # and resumes after the last event it had
            before = conv.last_seq
            assert before is not None
            await link.connections[0].pc.close()
            await eventually(lambda: conv.reconnects == 1, timeout=30, message="reconnected")
            again = await asyncio.wait_for(conv.say("after renegotiating"), 30)
            assert again.heard == "after renegotiating" and again.done
            assert len(link.answers) == 2
            assert candidate_ports(link.answers[1]["sdp"]) <= udp_ports_of(pid(owner))
            # what the application sees: no gap, no duplicate (the client asks for its
            # replay with `system.resume` once the data channel is open, so an event sent
            # live in between may also come in the replay: the client drops that copy)
            seqs = [e.seq for e in conv.view.events if e.seq is not None]
            assert seqs == list(range(1, len(conv.view.events) + 1))
            assert seqs[-1] > before
        finally:
            await conv.close()
            await link.stop()

    # what the client saw is what every node stores
    async with httpx.AsyncClient(trust_env=False) as http:
        stored = await http.get(f"{third.url}/v2/conversations/{cid}?verbose=true", headers=KEY)
    assert [e["seq"] for e in stored.json()["events"]][: len(seqs)] == seqs


async def test_an_api_key_client_reaches_the_owner_through_every_other_node(
    nodes: Nodes,
) -> None:
    created = await asyncio.to_thread(nodes.create, nodes.nodes[1])
    cid, owner_id = created["conversation_id"], created["node_id"]
    for via in nodes.others(owner_id):
        async with ReplicaClient(via.url, API_KEY) as client:
            link = RecordingTransport(client.target(cid))
            conv = await client.connect(cid, last_seq=0, transport=link)
            try:
                said = await asyncio.wait_for(conv.say(f"via {via.port}"), 30)
                assert said.heard == f"via {via.port}"
                assert candidate_ports(link.answers[0]["sdp"]) <= udp_ports_of(
                    pid(nodes.by_id(owner_id))
                )
            finally:
                await conv.close()
                await link.stop()


async def test_a_draining_owner_hands_the_call_over_and_the_client_renegotiates_with_it(
    nodes: Nodes,
) -> None:
    created = await asyncio.to_thread(
        nodes.create, nodes.nodes[0], properties={"participant_left_timeout": 600}
    )
    cid, owner_id = created["conversation_id"], created["node_id"]
    owner = nodes.by_id(owner_id)
    via = nodes.other_than(owner_id)
    async with ReplicaClient(via.url, API_KEY) as client:
        link = RecordingTransport(client.target(cid))
        conv = await client.connect(cid, last_seq=0, transport=link)
        try:
            said = await asyncio.wait_for(conv.say("before the drain"), 30)
            assert said.heard == "before the drain"
            assert candidate_ports(link.answers[0]["sdp"]) <= udp_ports_of(pid(owner))

            # SIGTERM: the owner hands the conversation over and closes the peer
            # connection; the client posts a new offer, which reaches the new owner
            await asyncio.to_thread(owner.stop, signal.SIGTERM)
            assert owner.process is not None and owner.process.returncode in (0, -signal.SIGTERM)
            await eventually(lambda: conv.reconnects >= 1, timeout=30, message="renegotiated")
            new_owner_id = via.get(f"/v2/conversations/{cid}", headers=KEY)["node_id"]
            assert new_owner_id != owner_id
            again = await asyncio.wait_for(conv.say("after the drain"), 30)
            assert again.heard == "after the drain" and again.done
            new_owner = nodes.by_id(new_owner_id)
            assert candidate_ports(link.answers[-1]["sdp"]) <= udp_ports_of(pid(new_owner))
            seqs = [e.seq for e in conv.view.events if e.seq is not None]
            assert seqs == list(range(1, len(conv.view.events) + 1))  # no gap, no duplicate
            assert not any(e.event_type == "system.shutdown" for e in conv.view.events)
        finally:
            await conv.close()
            await link.stop()
    assert f"{cid}: node draining; handed over to {new_owner_id}" in owner.output()
