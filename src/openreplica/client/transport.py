"""The transport interface: how the client reaches a conversation's data channel.

One method to open a connection (asking for a replay after `last_seq`), and a
connection that sends and receives whole JSON messages. `websocket.WebSocketTransport`
is the default; `webrtc.WebRTCTransport` is optional; `testing.MemoryTransport` is an
in-memory peer for tests.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Connection", "Transport"]


class Connection(Protocol):
    """One open data channel. Messages are whole JSON documents."""

    async def send(self, data: bytes) -> None:
        """Send one message; raises `ConnectionLost` if the connection is gone."""
        ...

    async def recv(self) -> bytes | str:
        """The next message; raises `ConnectionLost` when the connection closes."""
        ...

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        ...


class Transport(Protocol):
    """Opens connections to one conversation."""

    async def connect(self, last_seq: int | None) -> Connection:
        """Open a connection. With `last_seq`, the server first replays every retained
        event after it (SPEC §2.1); without, only live events are received.

        Raises `ConnectionLost` (with the close code or HTTP status when refused).
        """
        ...
