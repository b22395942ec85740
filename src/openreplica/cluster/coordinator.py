"""The node registry and placement, as one narrow interface.

A node announces itself with `heartbeat` every few seconds; it is live while its last
heartbeat is younger than the TTL it gave. `place` picks the least-loaded live node with
room (load / capacity; capacity 0 = unbounded) and counts the conversation on it in the
same atomic step, so concurrent placements on different nodes never overfill one
(`exclude`: nodes a placement found unreachable, see server/placement.py).
`release` uncounts a conversation that ended; `claim` counts one a node took over.
The load a node reports in a heartbeat is used only when the registry did not know it
(a new node, or Redis restarted): after that the registry's own count, moved by
`place`, `release` and `claim`, is the truth.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Coordinator", "NodeStatus"]


@dataclass(frozen=True, slots=True)
class NodeStatus:
    node_id: str
    #: where other nodes reach this one over HTTP (`--node-url`)
    url: str
    #: conversations this node may host at once; 0 = no limit
    capacity: int
    #: conversations placed on it and not ended
    load: int = 0
    #: share of one core this process used since its previous heartbeat
    cpu: float = 0.0
    #: stopping: takes no new placements
    draining: bool = False


class Coordinator(Protocol):
    async def heartbeat(self, node: NodeStatus, ttl: float) -> bool:
        """Register or refresh `node` for `ttl` seconds; True when it was not known."""
        ...

    async def nodes(self) -> list[NodeStatus]:
        """The live nodes, ordered by id."""
        ...

    async def place(self, exclude: Collection[str] = ()) -> str | None:
        """Count one more conversation on the least-loaded live node with room, other
        than those in `exclude`, and return its id; None when every such node is full or
        draining."""
        ...

    async def release(self, node_id: str) -> None:
        """One conversation placed on `node_id` ended."""
        ...

    async def claim(self, node_id: str) -> None:
        """`node_id` took over one conversation of a failed node: count it there."""
        ...

    async def leave(self, node_id: str) -> None:
        """`node_id` stops: forget it at once rather than when its heartbeat expires."""
        ...

    async def aclose(self) -> None: ...
