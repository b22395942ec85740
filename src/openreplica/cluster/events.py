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

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["EventStreams", "LocalEventStreams", "StaleAppend"]

#: one event as broadcast: (seq, encoded JSON)
Entry = tuple[int, bytes]


class StaleAppend(Exception):
    """An append at a `seq` the stream already holds: another node owns it now."""


class EventStreams(Protocol):
    async def append(self, conversation_id: str, events: Sequence[Entry]) -> None:
        """Add events (increasing `seq`, each above the newest held), or raise
        `StaleAppend` (then none after the refused one are added)."""
        ...

    async def read(self, conversation_id: str, after_seq: int = 0) -> list[Entry]:
        """The retained events with `seq` > `after_seq`, in order."""
        ...

    async def newest(self, conversation_id: str) -> int:
        """The `seq` of the newest event held; 0 when none is."""
        ...

    def follow(self, conversation_id: str, after_seq: int) -> AsyncIterator[list[Entry]]:
        """Batches of events with `seq` > `after_seq` as they are appended (forever)."""
        ...


@dataclass
class LocalEventStreams:
    """In one process (tests of the logic that reads streams)."""

    retained: int = 10_000
    _streams: dict[str, list[Entry]] = field(default_factory=dict)
    _changed: dict[str, asyncio.Event] = field(default_factory=dict)

    async def append(self, conversation_id: str, events: Sequence[Entry]) -> None:
        stream = self._streams.setdefault(conversation_id, [])
        for seq, data in events:
            if stream and seq <= stream[-1][0]:
                raise StaleAppend(f"{conversation_id}: seq {seq} is not above {stream[-1][0]}")
            stream.append((seq, data))
        del stream[: max(0, len(stream) - self.retained)]
        self._changed.pop(conversation_id, asyncio.Event()).set()

    async def read(self, conversation_id: str, after_seq: int = 0) -> list[Entry]:
        return [e for e in self._streams.get(conversation_id, []) if e[0] > after_seq]

    async def newest(self, conversation_id: str) -> int:
        stream = self._streams.get(conversation_id)
        return stream[-1][0] if stream else 0

    async def follow(self, conversation_id: str, after_seq: int) -> AsyncIterator[list[Entry]]:
        while True:
            changed = self._changed.setdefault(conversation_id, asyncio.Event())
            batch = await self.read(conversation_id, after_seq)
            if batch:
                after_seq = batch[-1][0]
                yield batch
            else:
                await changed.wait()
