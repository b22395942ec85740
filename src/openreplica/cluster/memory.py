"""In-memory backends: one process (the single-server default) and unit tests.

Time comes from an injected `now` callable, so expiry is testable on a virtual clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field, replace

from openreplica.cluster.coordinator import NodeStatus
from openreplica.cluster.pipes import PipeClosed, PipeOpen

__all__ = ["LocalCoordinator", "LocalPipes"]


def _ratio(node: NodeStatus) -> float:
    return node.load / node.capacity if node.capacity else 0.0


def has_room(node: NodeStatus) -> bool:
    return not node.draining and (node.capacity == 0 or node.load < node.capacity)


class LocalCoordinator:
    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._nodes: dict[str, tuple[NodeStatus, float]] = {}  # id -> (status, expires at)
        self._lock = asyncio.Lock()

    async def heartbeat(self, node: NodeStatus, ttl: float) -> bool:
        known = self._alive(node.node_id)
        load = known.load if known is not None else node.load
        self._nodes[node.node_id] = (replace(node, load=load), self._now() + ttl)
        return known is None

    async def nodes(self) -> list[NodeStatus]:
        return [n for n in (self._alive(i) for i in sorted(self._nodes)) if n is not None]

    async def place(self, exclude: Collection[str] = ()) -> str | None:
        async with self._lock:
            candidates = [n for n in await self.nodes() if has_room(n) and n.node_id not in exclude]
            if not candidates:
                return None
            best = min(candidates, key=lambda n: (_ratio(n), n.load, n.node_id))
            self._adjust(best.node_id, +1)
            return best.node_id

    async def release(self, node_id: str) -> None:
        self._adjust(node_id, -1)

    async def claim(self, node_id: str) -> None:
        self._adjust(node_id, +1)

    async def leave(self, node_id: str) -> None:
        self._nodes.pop(node_id, None)

    async def aclose(self) -> None:
        self._nodes.clear()

    def _alive(self, node_id: str) -> NodeStatus | None:
        entry = self._nodes.get(node_id)
        if entry is None:
            return None
        if entry[1] <= self._now():
            del self._nodes[node_id]
            return None
        return entry[0]

    def _adjust(self, node_id: str, delta: int) -> None:
        entry = self._nodes.get(node_id)
        if entry is not None:
            status, expires = entry
            self._nodes[node_id] = (replace(status, load=max(0, status.load + delta)), expires)


@dataclass
class _LocalPipe:
    inbox: asyncio.Queue[bytes | PipeClosed]
    outbox: asyncio.Queue[bytes | PipeClosed]
    closed: bool = False

    async def send(self, data: bytes) -> None:
        if not self.closed:
            self.outbox.put_nowait(data)

    async def receive(self) -> bytes | PipeClosed:
        return await self.inbox.get()

    async def close(self, code: int, reason: str) -> None:
        if not self.closed:
            self.closed = True
            self.outbox.put_nowait(PipeClosed(code, reason))


@dataclass
class LocalPipes:
    """Pipes between nodes living in one process (tests of the relay logic)."""

    _opens: dict[str, asyncio.Queue[PipeOpen]] = field(default_factory=dict)
    _ends: dict[str, _LocalPipe] = field(default_factory=dict)

    async def open(self, owner_node_id: str, request: PipeOpen) -> _LocalPipe:
        to_owner: asyncio.Queue[bytes | PipeClosed] = asyncio.Queue()
        to_relay: asyncio.Queue[bytes | PipeClosed] = asyncio.Queue()
        self._ends[request.pipe_id] = _LocalPipe(inbox=to_owner, outbox=to_relay)
        self._opens.setdefault(owner_node_id, asyncio.Queue()).put_nowait(request)
        return _LocalPipe(inbox=to_relay, outbox=to_owner)

    async def accept(
        self, node_id: str, ready: Callable[[], None] = lambda: None
    ) -> AsyncIterator[PipeOpen]:
        queue = self._opens.setdefault(node_id, asyncio.Queue())
        ready()
        while True:
            yield await queue.get()

    def attach(self, request: PipeOpen) -> _LocalPipe:
        return self._ends.pop(request.pipe_id)
