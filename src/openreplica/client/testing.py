"""An in-memory conversation for testing applications (and this SDK) without a server.

`FakeServer` keeps a log of sequenced events and hands out `MemoryTransport`
connections that behave like the real data channel: `last_seq` replays the log,
`system.resume` too, interactions are recorded in `received`. Nothing is answered on
its own: the test emits the events it wants, when it wants, and may hold them back
(`deliver=False`) to push them later in any order, duplicated or not at all.

    server = FakeServer("c1")
    conv = await Conversation("c1", server.transport()).start(last_seq=0)
    server.emit("system.replica_joined", {"replica_id": "r1"})
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from openreplica.client.errors import ConnectionLost

__all__ = ["FakeServer", "MemoryConnection", "MemoryTransport"]


class MemoryConnection:
    """One client connection to a `FakeServer`."""

    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self._inbox: asyncio.Queue[bytes | ConnectionLost] = asyncio.Queue()
        self.open = True

    def push(self, data: bytes | str) -> None:
        """Deliver one raw frame to the client now."""
        if self.open:
            self._inbox.put_nowait(data.encode() if isinstance(data, str) else data)

    def drop(self, code: int = 1006, reason: str = "connection dropped") -> None:
        """Close the connection from the server side."""
        if self.open:
            self.open = False
            self._inbox.put_nowait(ConnectionLost(code, reason))

    async def send(self, data: bytes) -> None:
        if not self.open:
            raise ConnectionLost(1006, "connection closed")
        self.server._receive(self, data)

    async def recv(self) -> bytes:
        item = await self._inbox.get()
        if isinstance(item, ConnectionLost):
            self._inbox.put_nowait(item)
            raise item
        return item

    async def close(self) -> None:
        if self.open:
            self.open = False
            self._inbox.put_nowait(ConnectionLost(1000, "closed by the client"))


class MemoryTransport:
    """A `Transport` whose connections go to a `FakeServer`."""

    def __init__(self, server: FakeServer) -> None:
        self.server = server

    async def connect(self, last_seq: int | None) -> MemoryConnection:
        return self.server._connect(last_seq)


class FakeServer:
    """A scripted conversation: a sequenced event log and the connections to it."""

    def __init__(self, conversation_id: str = "c-test", *, start_time: float = 1_000.0) -> None:
        self.conversation_id = conversation_id
        self.log: list[bytes] = []
        #: every interaction received, decoded, in arrival order
        self.received: list[dict[str, Any]] = []
        self.connections: list[MemoryConnection] = []
        #: every `last_seq` a connection asked for (None = live)
        self.connects: list[int | None] = []
        #: when set, the next connections are refused with this close code
        self.refuse: int | None = None
        self.time = start_time

    @property
    def live(self) -> list[MemoryConnection]:
        return [c for c in self.connections if c.open]

    def transport(self) -> MemoryTransport:
        return MemoryTransport(self)

    def emit(
        self,
        event_type: str,
        properties: dict[str, Any] | None = None,
        *,
        turn_idx: int | None = None,
        inference_id: str | None = None,
        deliver: bool = True,
        dt: float = 0.1,
    ) -> bytes:
        """Sequence one event, log it and (unless `deliver=False`) send it to every
        open connection. Returns the frame, for tests that deliver it themselves."""
        self.time += dt
        message: dict[str, Any] = {
            "message_type": "system" if event_type.startswith("system.") else "conversation",
            "event_type": event_type,
            "conversation_id": self.conversation_id,
            "seq": len(self.log) + 1,
            "timestamp": round(self.time, 3),
        }
        if turn_idx is not None:
            message["turn_idx"] = turn_idx
        if inference_id is not None:
            message["inference_id"] = inference_id
        if properties:
            message["properties"] = properties
        frame = json.dumps(message).encode()
        self.log.append(frame)
        if deliver:
            for conn in self.live:
                conn.push(frame)
        return frame

    def error(self, code: str, message: str, event_type: str | None = None) -> bytes:
        """A `system.error` (no `seq`) to every open connection."""
        props: dict[str, Any] = {"code": code, "message": message}
        if event_type is not None:
            props["event_type"] = event_type
        frame = json.dumps(
            {
                "message_type": "system",
                "event_type": "system.error",
                "conversation_id": self.conversation_id,
                "timestamp": self.time,
                "properties": props,
            }
        ).encode()
        for conn in self.live:
            conn.push(frame)
        return frame

    def drop_all(self, code: int = 1006) -> None:
        """Cut every open connection (the client should reconnect with `last_seq`)."""
        for conn in self.live:
            conn.drop(code)

    def received_types(self) -> list[str]:
        return [str(m.get("event_type")) for m in self.received]

    def _connect(self, last_seq: int | None) -> MemoryConnection:
        self.connects.append(last_seq)
        if self.refuse is not None:
            raise ConnectionLost(self.refuse, "refused")
        conn = MemoryConnection(self)
        self.connections.append(conn)
        if last_seq is not None:
            self._replay(conn, last_seq)
        return conn

    def _replay(self, conn: MemoryConnection, last_seq: int) -> None:
        for frame in self.log[last_seq:]:
            conn.push(frame)

    def _receive(self, conn: MemoryConnection, data: bytes) -> None:
        message = json.loads(data)
        self.received.append(message)
        if message.get("event_type") == "system.resume":
            self._replay(conn, int(message["properties"]["last_seq"]))
