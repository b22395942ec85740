"""A conversation's events read on a node that does not host it (server/event_reads.py):
the stored ones, then those only the event stream has yet, each `seq` once and in
order, against a real SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from openreplica.cluster import OwnerChanged
from openreplica.protocol import UserStartedSpeaking, encode
from openreplica.server.event_reads import read_events
from openreplica.server.store import EventRecord, Store

CID = "c1"
TYPE = "conversation.user.started_speaking"
#: (seq, encoded event), as in cluster/events.py
Entry = tuple[int, bytes]


class Streams:
    """An event stream per conversation in memory (the part reads use)."""

    def __init__(self, entries: Sequence[Entry] = (), down: bool = False) -> None:
        self.entries = list(entries)
        self.down = down
        self.reads: list[int] = []

    async def append(self, conversation_id: str, events: Sequence[Entry]) -> None:
        self.entries += events

    async def read(self, conversation_id: str, after_seq: int = 0) -> list[Entry]:
        if self.down:
            raise ConnectionError("redis is down")
        self.reads.append(after_seq)
        return [e for e in self.entries if e[0] > after_seq]

    async def newest(self, conversation_id: str) -> int:
        return self.entries[-1][0] if self.entries else 0

    async def mark_owner(self, conversation_id: str, after_seq: int, node_id: str) -> None:
        raise NotImplementedError

    async def claim(self, conversation_id: str) -> None:
        raise NotImplementedError

    async def follow(
        self, conversation_id: str, after_seq: int
    ) -> AsyncIterator[list[Entry | OwnerChanged]]:
        raise NotImplementedError
        yield []


def _data(seq: int, at: float = 100.0) -> bytes:
    return encode(UserStartedSpeaking(conversation_id=CID, seq=seq, timestamp=at + seq))


def _record(seq: int) -> EventRecord:
    return EventRecord(CID, seq, TYPE, 100.0 + seq, _data(seq))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    await opened.add_events([_record(seq) for seq in (1, 2, 3)])
    yield opened
    await opened.aclose()


async def test_the_events_the_host_has_not_stored_yet_come_from_the_stream(store: Store) -> None:
    # the stream retains 2..6, the database has 1..3: 4..6 only the stream has
    streams = Streams([(seq, _data(seq, at=200.0)) for seq in range(2, 7)])
    events = await read_events(store, streams, CID)
    assert [e.seq for e in events] == [1, 2, 3, 4, 5, 6]
    assert [e.data for e in events[:3]] == [_data(seq) for seq in (1, 2, 3)]  # stored wins
    assert events[3] == EventRecord(CID, 4, TYPE, 204.0, _data(4, at=200.0))
    assert streams.reads == [3]  # only what is after the newest stored

    after = await read_events(store, streams, CID, after_seq=2)
    assert [e.seq for e in after] == [3, 4, 5, 6]


async def test_everything_stored_or_nothing_stored(store: Store) -> None:
    caught_up = Streams([(seq, _data(seq)) for seq in (1, 2, 3)])
    assert [e.seq for e in await read_events(store, caught_up, CID)] == [1, 2, 3]
    # none stored past `after_seq` yet: the stream from there
    ahead = Streams([(seq, _data(seq)) for seq in range(1, 6)])
    assert [e.seq for e in await read_events(store, ahead, CID, after_seq=3)] == [4, 5]
    assert ahead.reads == [3]


async def test_without_a_stream_or_when_it_is_down_the_stored_events(store: Store) -> None:
    assert [e.seq for e in await read_events(store, None, CID)] == [1, 2, 3]
    down = Streams([(4, _data(4))], down=True)
    assert [e.seq for e in await read_events(store, down, CID)] == [1, 2, 3]
