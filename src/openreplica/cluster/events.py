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

__all__ = ["Entry", "EventStreams", "NotOwner", "OwnerChanged", "StaleAppend"]

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


class NotOwner(StaleAppend):
    """An append refused whole: another node marked itself the conversation's owner
    (`mark_owner`), whatever the seqs appended (the fence that lets several appends be in
    flight at once: a refused one is never overtaken by a later one that went in)."""


class EventStreams(Protocol):
    def append(self, conversation_id: str, events: Sequence[Entry]) -> Awaitable[None]:
        """Add events (increasing `seq`, each above the newest held), or raise
        `StaleAppend` (then none after the refused one are added; `NotOwner`: none at
        all, another node owns the conversation). Sent when called,
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

    async def claim(self, conversation_id: str) -> None:
        """This node (the backend's) owns the conversation from now on: appends from
        others are refused (`NotOwner`). For a node that moved it here and appends to
        its stream before `mark_owner` (or without: it ends it)."""
        ...

    def follow(
        self, conversation_id: str, after_seq: int
    ) -> AsyncIterator[list[Entry | OwnerChanged]]:
        """Batches of events with `seq` > `after_seq`, and owner marks, as they are
        appended (forever)."""
        ...
