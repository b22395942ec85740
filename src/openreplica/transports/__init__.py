"""Bytes to messages and back: the shared participant channel, WebSocket, WebRTC,
and an in-memory peer for tests."""

from openreplica.transports.channel import ChannelLimits, ConversationChannel, History, Send
from openreplica.transports.memory import MemoryPeer, connect_memory_peer
from openreplica.transports.rate_limit import TokenBucket

__all__ = [
    "ChannelLimits",
    "ConversationChannel",
    "History",
    "MemoryPeer",
    "Send",
    "TokenBucket",
    "connect_memory_peer",
]
