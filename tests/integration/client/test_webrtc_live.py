"""OPTIONAL transport: the same conversation over WebRTC (aiortc) — the `app-message`
data channel carries the events, and the replica's audio and video tracks arrive."""

from __future__ import annotations

import asyncio

from requires import require_module

from openreplica.client import ReplicaClient

from .conftest import echo_conversation

require_module("aiortc", "pip install openreplica  # aiortc is a dependency")


async def test_echo_over_webrtc(client: ReplicaClient) -> None:
    from openreplica.client.webrtc import WebRTCTransport
    from openreplica.transports.webrtc import enable_loopback_candidates

    # aioice leaves 127.0.0.1 out of this process's host candidates; in the tests'
    # loopback-only network namespace that is the only address there is.
    enable_loopback_candidates()

    info = await echo_conversation(client)
    link = WebRTCTransport(client.target(info))
    conv = await client.connect(info, last_seq=0, transport=link)
    try:
        said = await asyncio.wait_for(conv.say("Over WebRTC."), 30)
        assert said.heard == "Over WebRTC." and said.done
        assert sorted(track.kind for track in link.tracks) == ["audio", "video"]
        seqs = [e.seq for e in conv.view.events]
        assert seqs == list(range(1, len(seqs) + 1))
    finally:
        await conv.close()
