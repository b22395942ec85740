"""Append a live conversation's events to its cluster event stream (cluster/events.py).

The runtime calls `on_event` synchronously for every broadcast event. An event
broadcast while no append of the conversation is in flight is sent right there, inside
the broadcast (the Redis backend writes it to its socket before `append` returns:
cluster/resp.py), so a relay on another node does not wait for the rest of the work the
interaction causes on this node (the other listeners, the state saver, speech and avatar
setup, the loop's other tasks). Events broadcast while an append is in flight go as one
batch the moment its reply is read. One append at a time keeps the stale-owner refusal
whole: after a refused append (`StaleAppend`: another node owns the conversation now)
nothing more is sent; publishing stops and `on_stale` is called. The database writer
(server/event_writer.py) is independent of this. The stream is also what a node taking
the conversation over continues from when the database has not got the newest events
yet.

An append that fails otherwise (Redis unreachable) is sent again by the publisher's task,
up to `ATTEMPTS` times, before anything newer; one given up leaves a gap that relays fill
from the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from openreplica.cluster import EventStreams, StaleAppend
from openreplica.cluster.events import Entry
from openreplica.protocol import Event

log = logging.getLogger(__name__)

__all__ = ["StreamPublisher"]

#: sends of an append before it is given up (relays then fill the gap from the database)
ATTEMPTS = 3
#: seconds before sending a failed append again (times the attempt number)
RETRY_PAUSE = 0.05


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
        #: broadcast, not sent yet
        self._pending: list[Entry] = []
        #: the append sent and not answered yet
        self._in_flight: list[Entry] | None = None
        #: an append that failed, for the task to send again
        self._failed: list[Entry] | None = None
        self._wake = asyncio.Event()
        self._closing = False
        self._stale = False
        self._task = asyncio.create_task(self._run(), name=f"stream-{conversation_id}")

    def on_event(self, event: Event, data: bytes) -> None:
        if event.seq is None or self._stale:
            return
        self._pending.append((event.seq, data))
        if self._in_flight is None and self._failed is None:
            self._send()

    async def aclose(self) -> None:
        """Append what is left and stop."""
        self._closing = True
        self._wake.set()
        await asyncio.gather(self._task, return_exceptions=True)

    def _send(self) -> None:
        batch, self._pending = self._pending, []
        self._in_flight = batch
        sent = asyncio.ensure_future(self._streams.append(self._conversation_id, batch))
        sent.add_done_callback(self._answered)

    def _answered(self, sent: asyncio.Future[None]) -> None:
        batch, self._in_flight = self._in_flight, None
        error = sent.exception() if not sent.cancelled() else asyncio.CancelledError()
        if isinstance(error, StaleAppend):
            self._go_stale(error)
        elif error is not None and batch is not None:
            self._failed = batch  # the task sends it again before anything newer
        elif self._pending and not self._stale:
            self._send()  # what was broadcast meanwhile
        self._wake.set()

    async def _run(self) -> None:
        while True:
            if self._failed is not None:
                await self._resend(self._failed)
                self._failed = None
                if self._pending and not self._stale:
                    self._send()
            if self._closing and self._in_flight is None and not self._pending:
                return
            self._wake.clear()
            await self._wake.wait()

    async def _resend(self, batch: list[Entry]) -> None:
        for attempt in range(1, ATTEMPTS):
            await asyncio.sleep(RETRY_PAUSE * attempt)
            try:
                await self._streams.append(self._conversation_id, batch)
                return
            except StaleAppend:
                return  # the first send got through, its answer was lost
            except Exception as exc:
                if attempt == ATTEMPTS - 1:
                    log.warning(
                        "%s: events %d..%d not in the event stream (%s)",
                        self._conversation_id,
                        batch[0][0],
                        batch[-1][0],
                        exc,
                    )

    def _go_stale(self, stale: StaleAppend) -> None:
        if self._stale:
            return
        log.error("%s: %s; this node no longer owns it", self._conversation_id, stale)
        self._stale = True
        self._pending = []
        self._on_stale()
