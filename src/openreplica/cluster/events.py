"""Each live conversation's events as one bounded stream that every node can read.

The node hosting a conversation appends every event it sequences (`append`), in `seq`
order, before or while the database gets them; any node reads them back (`read`: what
is retained after a `seq`) or follows them as they come (`follow`). Entries are keyed by
`seq`, so an append can only go forward: a second writer (a node taken for dead that
is still running) cannot add an event at a `seq` that exists, and the node taking a
conversation over continues from the last `seq` the stream holds. The stream keeps the
newest `retained` events (the database keeps them all) and expires when idle.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Entry", "EventStreams", "OwnerChanged", "StaleAppend"]

#: one event as broadcast: (seq, encoded JSON)
Entry = tuple[int, bytes]


@dataclass(frozen=True, slots=True)
class OwnerChanged:
    """A node took the conversation over after event `after_seq` (`mark_owner`):
    followers see it before the new owner's first event."""

    after_seq: int
    node_id: str


class StaleAppend(Exception):
    """An append at a `seq` the stream already holds: another node owns it now."""


class EventStreams(Protocol):
    def append(self, conversation_id: str, events: Sequence[Entry]) -> Awaitable[None]:
        """Add events (increasing `seq`, each above the newest held), or raise
        `StaleAppend` (then none after the refused one are added). Sent when called,
        in order with the appends made before it, before it is awaited."""
        ...

    async def read(self, conversation_id: str, after_seq: int = 0) -> list[Entry]:
        """The retained events with `seq` > `after_seq`, in order."""
        ...

    async def newest(self, conversation_id: str) -> int:
        """The `seq` of the newest event held; 0 when none is."""
        ...

    async def mark_owner(self, conversation_id: str, after_seq: int, node_id: str) -> None:
        """`node_id` hosts the conversation from now on (its next event is after
        `after_seq`): relays following the stream move to it at once."""
        ...

    def follow(
        self, conversation_id: str, after_seq: int
    ) -> AsyncIterator[list[Entry | OwnerChanged]]:
        """Batches of events with `seq` > `after_seq`, and owner marks, as they are
        appended (forever)."""
        ...
