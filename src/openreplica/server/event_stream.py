"""Append a live conversation's events to its cluster event stream (cluster/events.py).

The runtime calls `on_event` synchronously for every broadcast event; one task per
conversation appends whatever accumulated as one batch, in `seq` order, so relays on
other nodes read events one Redis round trip after they are sequenced, independently of
the database writer (server/event_writer.py). The stream is also what a node taking
the conversation over continues from when the database has not got the newest events
yet. A refused append (`StaleAppend`: another node owns the conversation now) stops
publishing and calls `on_stale`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from openreplica.cluster import EventStreams, StaleAppend
from openreplica.protocol import Event

log = logging.getLogger(__name__)

__all__ = ["StreamPublisher"]

#: appends tried before a batch is given up (relays then fill the gap from the database)
ATTEMPTS = 3


class StreamPublisher:
    def __init__(
        self,
        streams: EventStreams,
        conversation_id: str,
        on_stale: Callable[[], None] = lambda: None,
    ) -> None:
        self._streams = streams
        self._conversation_id = conversation_id
        self._on_stale = on_stale
        self._pending: list[tuple[int, bytes]] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._stale = False
        self._task = asyncio.create_task(self._run(), name=f"stream-{conversation_id}")

    def on_event(self, event: Event, data: bytes) -> None:
        if event.seq is not None and not self._stale:
            self._pending.append((event.seq, data))
            self._wake.set()

    async def aclose(self) -> None:
        """Append what is left and stop."""
        self._closing = True
        self._wake.set()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while not (self._closing and not self._pending):
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            if batch and not self._stale:
                await self._append(batch)

    async def _append(self, batch: list[tuple[int, bytes]]) -> None:
        for attempt in range(ATTEMPTS):
            try:
                await self._streams.append(self._conversation_id, batch)
                return
            except StaleAppend as stale:
                if attempt > 0:
                    return  # the previous attempt got through before its answer was lost
                log.error("%s: %s; this node no longer owns it", self._conversation_id, stale)
                self._stale = True
                self._on_stale()
                return
            except Exception as exc:
                if attempt == ATTEMPTS - 1:
                    log.warning(
                        "%s: events %d..%d not in the event stream (%s)",
                        self._conversation_id,
                        batch[0][0],
                        batch[-1][0],
                        exc,
                    )
                    return
                await asyncio.sleep(0)
