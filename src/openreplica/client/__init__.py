"""The openreplica Python client SDK.

Join a conversation and talk to its replica over the CVI Interactions Protocol, with
the protocol's ordering guarantees done for you:

    from openreplica.client import ReplicaClient

    async with ReplicaClient("http://127.0.0.1:8000") as client:
        persona = await client.create_persona(persona_name="Narrator", pipeline_mode="echo")
        info = await client.create_conversation(persona_id=persona["persona_id"])
        async with await client.connect(info) as conv:
            said = await conv.say("Hello!")            # echo, wait until spoken
            print(said.heard, said.duration)

- `Conversation`: typed helpers for every interaction, `async for event in conv` in
  `seq` order exactly once (reorder buffer, automatic reconnect with `last_seq`),
  `turns` / `utterances` / `transcript()` views, tools answered automatically.
- `ReplicaClient`: REST helpers (personas, conversations), `connect()`, shared tools.
- `connect(url)`: join by `conversation_url` or WebSocket URL.
- `openreplica.client.testing.FakeServer`: an in-memory conversation for tests.
- `openreplica.client.webrtc.WebRTCTransport` (optional, needs aiortc).

Depends on `openreplica.protocol` only (plus websockets and httpx).
"""

from openreplica.client.client import ReplicaClient, TransportName, connect
from openreplica.client.clock import Clock, MonotonicClock
from openreplica.client.conversation import (
    Conversation,
    EventMatch,
    ReceivedEvent,
    ReconnectPolicy,
)
from openreplica.client.errors import (
    ApiError,
    ClientError,
    ConnectionLost,
    ConversationClosed,
    ConversationEnded,
    ConversationNotFound,
    NotAuthorised,
    ReconnectFailed,
)
from openreplica.client.ordering import Gap, ReorderBuffer
from openreplica.client.rest import RestClient
from openreplica.client.target import ConversationTarget
from openreplica.client.tools import ToolOutcome, ToolRegistry
from openreplica.client.transport import Connection, Transport
from openreplica.client.views import ConversationView, Turn, Utterance
from openreplica.client.websocket import WebSocketTransport
from openreplica.protocol.transcript import TranscriptEntry

__all__ = [
    "ApiError",
    "ClientError",
    "Clock",
    "Connection",
    "ConnectionLost",
    "Conversation",
    "ConversationClosed",
    "ConversationEnded",
    "ConversationNotFound",
    "ConversationTarget",
    "ConversationView",
    "EventMatch",
    "Gap",
    "MonotonicClock",
    "NotAuthorised",
    "ReceivedEvent",
    "ReconnectFailed",
    "ReconnectPolicy",
    "ReorderBuffer",
    "ReplicaClient",
    "RestClient",
    "ToolOutcome",
    "ToolRegistry",
    "TranscriptEntry",
    "Transport",
    "TransportName",
    "Turn",
    "Utterance",
    "WebSocketTransport",
    "connect",
]
