"""An in-memory peer for tests: what a WebSocket client would see, with no socket."""

from __future__ import annotations

from dataclasses import dataclass, field

from openreplica.protocol import AnyEvent, UnknownEvent, decode_event
from openreplica.runtime import Clock, ConversationRuntime
from openreplica.transports.channel import ChannelLimits, ConversationChannel, History


@dataclass
class MemoryPeer:
    received: list[bytes] = field(default_factory=list)

    async def send(self, data: bytes) -> None:
        self.received.append(data)

    def events(self) -> list[AnyEvent | UnknownEvent]:
        return [decode_event(data) for data in self.received]


async def connect_memory_peer(
    runtime: ConversationRuntime,
    clock: Clock,
    *,
    last_seq: int | None = None,
    limits: ChannelLimits | None = None,
    history: History | None = None,
) -> tuple[ConversationChannel, MemoryPeer]:
    peer = MemoryPeer()
    channel = ConversationChannel(runtime, peer.send, clock, limits, history)
    await channel.open(last_seq)
    return channel, peer
