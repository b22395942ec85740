"""Persist live conversations' events off the hot path, in one transaction per batch
for the whole node.

The runtime calls `EventWriter.on_event` synchronously for every broadcast event; it
only appends to the node's `EventBatcher`. The batcher's one task waits `interval`
seconds after the first pending event (so the events of every conversation of the node
that arrive meanwhile join it) and inserts them as one transaction: a node with N
speaking conversations commits about 1/`interval` times a second, not once per event
per conversation, and no conversation ever waits for the database. A reader that needs
the events in the database (a replay by `last_seq`, a verbose REST read, the end of a
conversation) calls `flush()`, which writes what is pending at once and returns when
everything received so far is stored.

What a crash can lose: events broadcast within the last batch (≤ `interval` plus one
write). In a cluster the conversation's event stream in Redis already holds them and the
node taking over stores them (docs/scaling.md, failure model); one process on its own
loses them with the process, as it loses the live conversation.

In a cluster, a batch stores only the events of conversations this node still hosts:
their `node_id` is checked in the same transaction as the insert, under a share lock on
their rows (`Store.add_events`). A node that fenced itself off (server/fencing.py) and
whose last batch reaches PostgreSQL late therefore stores it only if no node has taken
the conversation over yet — and the node taking it over (its compare-and-set on
`node_id` waits for that transaction) then reads what it stored and goes on after it;
once the conversation moved, the late batch is dropped (logged): never a `seq` both
nodes store, never one the new owner wrote differently. A batch the database refuses
as a whole (a row clashing on its unique key) is written again one conversation at a
time, so the others' events are not lost with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from openreplica.protocol import Event
from openreplica.server.store import EventRecord, Store

log = logging.getLogger(__name__)

__all__ = ["BATCH_INTERVAL", "EventBatcher", "EventWriter"]

#: seconds a batch gathers the node's events before it is written
BATCH_INTERVAL = 0.05
#: tries of one conversation's part of a refused batch before it is given up (logged)
ATTEMPTS = 3


class EventBatcher:
    """The node's event writes: one transaction per batch for every conversation."""

    def __init__(
        self,
        store: Store,
        interval: float = BATCH_INTERVAL,
        delay: float = 0.0,
        owner: str | None = None,
    ):
        """`delay` (testing only) holds each batch back that many seconds, to test what
        a crash between the event stream and the database loses (nothing). `owner`: the
        cluster node this is; only the events of conversations it still hosts are stored
        (`Store.add_events`)."""
        self._store = store
        self._owner = owner
        self._interval = interval
        self._delay = delay
        self._pending: list[EventRecord] = []
        self._wake = asyncio.Event()
        self._hurry = asyncio.Event()
        self._stored = asyncio.Condition()
        self._received = 0
        self._written = 0
        self._task: asyncio.Task[None] | None = None

    def add(self, record: EventRecord) -> None:
        self._pending.append(record)
        self._received += 1
        self._wake.set()
        self._running()

    async def flush(self) -> None:
        """Write what is pending now; return once everything received so far is stored."""
        target = self._received
        if self._written >= target:
            return
        self._hurry.set()
        task = self._running()
        async with self._stored:
            await self._stored.wait_for(lambda: self._written >= target or task.done())

    async def aclose(self) -> None:
        """Store what is pending and stop the task (a later event starts it again)."""
        await self.flush()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _running(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="event-writer")
        return self._task

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            if self._interval > 0 and not self._hurry.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._interval):
                        await self._hurry.wait()
            self._wake.clear()
            self._hurry.clear()
            batch, self._pending = self._pending, []
            if batch:
                if self._delay:
                    await asyncio.sleep(self._delay)
                await self._write(batch)
            async with self._stored:
                self._written += len(batch)
                self._stored.notify_all()

    async def _write(self, batch: list[EventRecord]) -> None:
        try:
            self._refused(await self._store.add_events(batch, self._owner))
            return
        except Exception as exc:
            if len({e.conversation_id for e in batch}) == 1:
                await self._write_one(batch, 1)
                return
            log.info(
                "a batch of %d events refused (%s): one conversation at a time", len(batch), exc
            )
        parts: dict[str, list[EventRecord]] = {}
        for record in batch:
            parts.setdefault(record.conversation_id, []).append(record)
        for part in parts.values():
            await self._write_one(part, 0)

    async def _write_one(self, part: list[EventRecord], tried: int) -> None:
        for attempt in range(tried, ATTEMPTS):
            if attempt:
                await asyncio.sleep(0)
            try:
                self._refused(await self._store.add_events(part, self._owner))
                return
            except Exception:
                if attempt == ATTEMPTS - 1:
                    log.exception(
                        "%s: could not store %d events (seq %d..%d)",
                        part[0].conversation_id,
                        len(part),
                        part[0].seq,
                        part[-1].seq,
                    )

    @staticmethod
    def _refused(conversations: set[str]) -> None:
        for conversation_id in sorted(conversations):
            log.warning(
                "%s: events not stored: another node hosts it now (this one was fenced "
                "off, or the conversation moved, before they were written)",
                conversation_id,
            )


class EventWriter:
    """One live conversation's events into the node's `EventBatcher`."""

    def __init__(self, batcher: EventBatcher, conversation_id: str) -> None:
        self._batcher = batcher
        self._conversation_id = conversation_id
        self._closed = False

    def on_event(self, event: Event, data: bytes) -> None:
        """A runtime listener: queue one broadcast event (unsequenced ones are not kept)."""
        if event.seq is None or self._closed:
            return
        self._batcher.add(
            EventRecord(
                self._conversation_id, event.seq, event.event_type, event.timestamp or 0.0, data
            )
        )

    async def flush(self) -> None:
        """Wait until every event received so far is in the database."""
        await self._batcher.flush()

    async def aclose(self) -> None:
        """Store what is left; later events of this conversation are not kept."""
        await self._batcher.flush()
        self._closed = True
