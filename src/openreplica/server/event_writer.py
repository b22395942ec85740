"""Persist a live conversation's events off the hot path.

The runtime calls `on_event` synchronously for every broadcast event; it only appends
to a list. One writer task per conversation inserts whatever accumulated as one batch,
so a burst of streaming events costs one transaction, and the conversation never waits
for the database. `flush()` returns once everything received so far is stored.
"""

from __future__ import annotations

import asyncio
import logging

from openreplica.protocol import Event
from openreplica.server.store import EventRecord, Store

log = logging.getLogger(__name__)

__all__ = ["EventWriter"]


class EventWriter:
    def __init__(self, store: Store, conversation_id: str, delay: float = 0.0) -> None:
        """`delay` (testing only) holds each batch back that many seconds, to test what
        a crash between the event stream and the database loses (nothing)."""
        self._store = store
        self._delay = delay
        self._conversation_id = conversation_id
        self._pending: list[EventRecord] = []
        self._wake = asyncio.Event()
        self._stored = asyncio.Condition()
        self._received = 0
        self._written = 0
        self._closing = False
        self._task = asyncio.create_task(self._run(), name=f"events-{conversation_id}")

    def on_event(self, event: Event, data: bytes) -> None:
        """A runtime listener: queue one broadcast event (unsequenced ones are not kept)."""
        if event.seq is None:
            return
        self._pending.append(
            EventRecord(
                self._conversation_id, event.seq, event.event_type, event.timestamp or 0.0, data
            )
        )
        self._received += 1
        self._wake.set()

    async def flush(self) -> None:
        """Wait until every event received so far is in the database."""
        target = self._received
        async with self._stored:
            await self._stored.wait_for(lambda: self._written >= target or self._task.done())

    async def aclose(self) -> None:
        """Store what is left and stop."""
        self._closing = True
        self._wake.set()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            if batch:
                if self._delay:
                    await asyncio.sleep(self._delay)
                await self._write(batch)
            async with self._stored:
                self._written += len(batch)
                self._stored.notify_all()
            if self._closing and not self._pending:
                return

    async def _write(self, batch: list[EventRecord]) -> None:
        for attempt in range(3):
            try:
                await self._store.add_events(batch)
                return
            except Exception:
                if attempt == 2:
                    log.exception(
                        "%s: could not store %d events (seq %d..%d)",
                        self._conversation_id,
                        len(batch),
                        batch[0].seq,
                        batch[-1].seq,
                    )
                    return
                await asyncio.sleep(0)
