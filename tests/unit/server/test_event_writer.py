"""The node's event writes (server/event_writer.py): every conversation's events in one
transaction per batch, written at once when a reader flushes, a refused batch written
again one conversation at a time, against a real SQLite store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from openreplica.protocol import Event, UserStartedSpeaking, encode
from openreplica.server.event_writer import EventBatcher, EventWriter
from openreplica.server.store import EventRecord, Store


class CountingStore(Store):
    """The real store, counting `add_events` calls (one transaction each)."""

    calls: list[list[str]]

    async def add_events(self, events: Sequence[EventRecord], owner: str | None = None) -> set[str]:
        self.calls.append([f"{e.conversation_id}:{e.seq}" for e in events])
        return await super().add_events(events, owner)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[CountingStore]:
    counting = await CountingStore.open(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    assert isinstance(counting, CountingStore)
    counting.calls = []
    yield counting
    await counting.aclose()


def _event(cid: str, seq: int) -> tuple[Event, bytes]:
    event = UserStartedSpeaking(conversation_id=cid, seq=seq, timestamp=float(seq))
    return event, encode(event)


async def _stored(store: Store, cid: str) -> list[int]:
    return [e.seq for e in await store.load_events(cid)]


async def test_the_events_of_every_conversation_within_the_interval_are_one_transaction(
    store: CountingStore,
) -> None:
    batcher = EventBatcher(store, interval=0.2)
    writers = {cid: EventWriter(batcher, cid) for cid in ("a", "b", "c")}
    for seq in (1, 2):
        for cid, writer in writers.items():
            writer.on_event(*_event(cid, seq))
    await asyncio.sleep(0)  # the batcher's task is waiting out the interval
    assert store.calls == []
    await writers["a"].flush()
    assert len(store.calls) == 1 and sorted(store.calls[0]) == sorted(
        f"{cid}:{seq}" for cid in "abc" for seq in (1, 2)
    )
    for cid in writers:
        assert await _stored(store, cid) == [1, 2]
    await batcher.aclose()


async def test_without_a_reader_a_batch_is_written_after_the_interval(
    store: CountingStore,
) -> None:
    from eventually import eventually

    batcher = EventBatcher(store, interval=0.05)
    writer = EventWriter(batcher, "a")
    writer.on_event(*_event("a", 1))
    writer.on_event(UserStartedSpeaking(conversation_id="a"), b"{}")  # unsequenced: not kept
    await eventually(lambda: store.calls or None, timeout=5, message="the batch written")
    assert store.calls == [["a:1"]]
    await batcher.aclose()


async def test_a_flush_waits_for_nothing_when_everything_is_stored(store: CountingStore) -> None:
    batcher = EventBatcher(store, interval=3600)
    await EventWriter(batcher, "a").flush()  # nothing pending: no hour-long wait
    assert store.calls == []


async def test_a_refused_batch_is_written_again_one_conversation_at_a_time(
    store: CountingStore,
) -> None:
    await store.add_events([EventRecord("cut-off", 2, "x", 0.0, b"{}")])  # a new owner's
    store.calls.clear()
    batcher = EventBatcher(store, interval=0.2)
    good, cut_off = EventWriter(batcher, "good"), EventWriter(batcher, "cut-off")
    good.on_event(*_event("good", 1))
    cut_off.on_event(*_event("cut-off", 1))
    cut_off.on_event(*_event("cut-off", 2))  # clashes on (conversation_id, seq)
    good.on_event(*_event("good", 2))
    await good.flush()
    assert await _stored(store, "good") == [1, 2]
    assert await _stored(store, "cut-off") == [2]  # its whole part was refused
    assert store.calls[0] == ["good:1", "cut-off:1", "cut-off:2", "good:2"]
    assert store.calls[1] == ["good:1", "good:2"]
    assert store.calls[2:] == [["cut-off:1", "cut-off:2"]] * 3  # tried, then given up
    await batcher.aclose()


async def test_closing_a_writer_stores_what_it_queued_and_keeps_nothing_after(
    store: CountingStore,
) -> None:
    batcher = EventBatcher(store, interval=3600)
    writer = EventWriter(batcher, "a")
    writer.on_event(*_event("a", 1))
    await writer.aclose()  # at once, not after the hour
    writer.on_event(*_event("a", 2))
    await batcher.flush()
    assert await _stored(store, "a") == [1]


async def test_the_batcher_starts_again_after_it_was_closed(store: CountingStore) -> None:
    batcher = EventBatcher(store, interval=0.01)
    EventWriter(batcher, "a").on_event(*_event("a", 1))
    await batcher.aclose()
    EventWriter(batcher, "b").on_event(*_event("b", 1))
    await batcher.flush()
    assert await _stored(store, "a") == [1] and await _stored(store, "b") == [1]
    await batcher.aclose()
