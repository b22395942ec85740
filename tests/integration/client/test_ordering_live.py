"""A dropped connection mid-reply, against a real server: every event exactly once."""

from __future__ import annotations

import asyncio
from typing import Any

from eventually import eventually

from openreplica.client import ReplicaClient, WebSocketTransport
from openreplica.client.websocket import WebSocketConnection
from openreplica.protocol import UtteranceStreaming

from .conftest import LONG_REPLY, echo_conversation


class Killable:
    """The WebSocket transport, with a way to cut the TCP connection (no close frame)
    and a gate that holds reconnects back."""

    def __init__(self, inner: WebSocketTransport) -> None:
        self.inner = inner
        self.opened: list[tuple[int | None, WebSocketConnection]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def connect(self, last_seq: int | None) -> WebSocketConnection:
        await self.gate.wait()
        conn = await self.inner.connect(last_seq)
        self.opened.append((last_seq, conn))
        return conn

    def kill(self) -> None:
        ws: Any = self.opened[-1][1]._ws
        ws.transport.abort()


async def server_seqs(client: ReplicaClient, cid: str) -> list[int]:
    info = await client.get_conversation(cid, verbose=True)
    return [e["seq"] for e in info["events"]]


async def wait_server_ahead(client: ReplicaClient, cid: str, beyond: int) -> None:
    async def ahead() -> bool:
        return max(await server_seqs(client, cid), default=0) > beyond

    await eventually(ahead, timeout=30, interval=0.05, message=f"the server past seq {beyond}")


async def test_connection_cut_mid_reply_recovers_every_event_once(
    client: ReplicaClient,
) -> None:
    info = await echo_conversation(client)
    cid = info["conversation_id"]
    link = Killable(WebSocketTransport(client.target(info)))
    conv = await client.connect(info, last_seq=0, transport=link)
    received: list[int | None] = []

    async def consume() -> None:
        async for event in conv:
            received.append(event.seq)

    consumer = asyncio.create_task(consume())
    words = conv.wait_for(
        lambda e: isinstance(e, UtteranceStreaming) and e.properties.content_index == 1
    )
    await conv.echo(LONG_REPLY, inference_id="story")
    await words
    link.gate.clear()
    link.kill()  # mid-reply: the server goes on speaking to nobody
    cut_at = conv.last_seq or 0
    await wait_server_ahead(client, cid, cut_at + 3)  # events are missed meanwhile
    link.gate.set()
    story = await conv.wait_utterance("story")
    assert story.heard == LONG_REPLY and not story.interrupted
    await client.end_conversation(cid)
    await asyncio.wait_for(consumer, 30)
    assert conv.reconnects == 1 and [s for s, _ in link.opened] == [0, cut_at]
    expected = await server_seqs(client, cid)
    assert received == expected == list(range(1, len(expected) + 1))
    assert conv.skipped_gaps == []
    streamed = [
        e.properties.content_index for e in conv.view.events if isinstance(e, UtteranceStreaming)
    ]
    assert streamed == list(range(len(streamed)))


async def test_conversation_ending_while_disconnected_is_completed_over_rest(
    client: ReplicaClient,
) -> None:
    info = await echo_conversation(client)
    cid = info["conversation_id"]
    link = Killable(WebSocketTransport(client.target(info)))
    conv = await client.connect(info, last_seq=0, transport=link)
    said = await conv.say("One.")
    assert said.done
    link.gate.clear()
    link.kill()
    await client.end_conversation(cid)  # the shutdown goes out while we are away
    link.gate.set()  # the reconnect is refused with 4410: the rest comes over REST
    await asyncio.wait_for(conv.wait_closed(), 30)
    assert conv.ended and conv.view.shutdown_reason
    seqs = [e.seq for e in conv.view.events]
    assert seqs == await server_seqs(client, cid) == list(range(1, len(seqs) + 1))
