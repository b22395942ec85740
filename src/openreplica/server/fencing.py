"""A cluster node's lease on its conversations, and fencing itself off when it runs out.

The registry counts a node live until its heartbeat expires (`--node-ttl` after Redis
ran its last heartbeat); then other nodes take its conversations over. A node cut off
from Redis (a partition, a frozen connection) cannot know when that happens, so it holds
its conversations on a lease: each heartbeat that succeeds renews it until the time the
heartbeat was *sent* plus the TTL, less a margin (one heartbeat interval, at most half
the TTL). Redis ran that heartbeat after it was sent, so the lease always ends before
the registry forgets the node, and the margin leaves the node time to stop.

When the lease runs out, the node fences itself off (`ConversationHub.fence`): its
conversations stop here without ending (no `system.shutdown`, no end stored, no
webhook), the events already broadcast are stored within half the margin, and its
clients are closed with 1012 to reconnect by `last_seq`; it starts and joins nothing
until a heartbeat succeeds again. Then it takes back, as after a restart, what is still
its own (nobody took it over: Redis was away for every node), and another node has the
rest.
"""

from __future__ import annotations

import math

__all__ = ["Lease"]


class Lease:
    def __init__(self, ttl: float, heartbeat: float) -> None:
        self.margin = min(heartbeat, ttl / 2)
        self._ttl = ttl
        #: no lease before the first heartbeat: the node holds nothing yet
        self.until = -math.inf

    def renewed(self, sent_at: float) -> None:
        """A heartbeat sent at `sent_at` succeeded."""
        self.until = max(self.until, sent_at + self._ttl - self.margin)

    def held(self, now: float) -> bool:
        return now < self.until
