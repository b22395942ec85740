"""Pipes: how a node relays one client connection to the node that owns the conversation.

The relaying node `open`s a pipe to the owner; the owner receives a `PipeOpen` from
`accept` and `attach`es its end. Each end `send`s messages (the client's frames one
way, the channel's frames the other) and finally a close code. The owner runs the real
participant channel, so rate limits, errors and replay by `last_seq` behave exactly as on
a direct connection; the relay only copies frames.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Pipe", "PipeClosed", "PipeOpen", "Pipes"]


@dataclass(frozen=True, slots=True)
class PipeOpen:
    pipe_id: str
    conversation_id: str
    credential: str | None
    last_seq: int | None
    #: the relay reads the conversation's events from its event stream: the owner sends
    #: only what is meant for this connection alone (its errors) and the close
    stream_events: bool = False


@dataclass(frozen=True, slots=True)
class PipeClosed:
    """The other end closed: the WebSocket close code and reason to pass on."""

    code: int
    reason: str


class Pipe(Protocol):
    async def send(self, data: bytes) -> None: ...

    async def receive(self) -> bytes | PipeClosed:
        """The next message, or how the other end closed (then nothing more comes)."""
        ...

    async def close(self, code: int, reason: str) -> None:
        """Tell the other end we are done (idempotent) and free the pipe."""
        ...


class Pipes(Protocol):
    async def open(self, owner_node_id: str, request: PipeOpen) -> Pipe:
        """Relaying side: ask `owner_node_id` to serve a connection."""
        ...

    def accept(
        self, node_id: str, ready: Callable[[], None] = lambda: None
    ) -> AsyncIterator[PipeOpen]:
        """Owner side: the connections other nodes relay to `node_id`, as they come
        from the moment `ready` is called (earlier ones are stale)."""
        ...

    def attach(self, request: PipeOpen) -> Pipe:
        """Owner side: its end of the pipe `request` opened."""
        ...
