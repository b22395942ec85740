"""Append a live conversation's events to its cluster event stream (cluster/events.py).

The runtime calls `on_event` synchronously for every broadcast event, and each is sent
right there, inside the broadcast (the Redis backend writes it to its socket before
`append` returns: cluster/resp.py), so a relay on another node does not wait for the
rest of the work the interaction causes on this node (the other listeners, the state
saver, speech and avatar setup, the loop's other tasks), nor for the answer to the
events broadcast before it: a burst's events are all in flight at once. That is safe
because the stream's fence is on the owner's identity (`NotOwner`: another node marked
itself owner, and every append of this node is refused whole, whatever its seqs), so a
refused append is never overtaken by a later one that went in. After a refusal
(`StaleAppend`) nothing more is sent; publishing stops and `on_stale` is called once.
A backend that cannot keep appends in flight together (`pipelined` false: redis-py's
path, where they go one after the other anyway) gets one at a time, the events broadcast
meanwhile as one batch when its answer is read. The database writer
(server/event_writer.py) is independent of this. The stream is also what a node taking
the conversation over continues from when the database has not got the newest events
yet.

An append that fails otherwise (Redis unreachable: the connection fails it and every
append after it not answered yet, in order) is sent again by the publisher's task, with
the ones after it, in order, up to `ATTEMPTS` times each, before anything newer; a seq
refusal then means the first send got through. One given up leaves a gap that relays
fill from the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

from openreplica.cluster import EventStreams, NotOwner, StaleAppend
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
        #: several appends may be in flight (answered in order, failed together)
        self._pipelined = bool(getattr(streams, "pipelined", False))
        #: broadcast, not sent yet
        self._pending: list[Entry] = []
        #: the appends sent and not settled yet, oldest first
        self._in_flight: deque[tuple[list[Entry], asyncio.Future[None]]] = deque()
        #: appends that failed, oldest first, for the task to send again
        self._failed: deque[list[Entry]] = deque()
        self._wake = asyncio.Event()
        self._closing = False
        self._stale = False
        self._task = asyncio.create_task(self._run(), name=f"stream-{conversation_id}")

    def on_event(self, event: Event, data: bytes) -> None:
        if event.seq is None or self._stale:
            return
        self._settle()  # a dropped connection is seen before anything newer is sent
        self._pending.append((event.seq, data))
        if self._may_send():
            self._send()

    async def aclose(self) -> None:
        """Append what is left and stop."""
        self._closing = True
        self._wake.set()
        await asyncio.gather(self._task, return_exceptions=True)

    def _may_send(self) -> bool:
        if self._stale or self._failed:
            return False
        return self._pipelined or not self._in_flight

    def _send(self) -> None:
        batch, self._pending = self._pending, []
        sent = asyncio.ensure_future(self._streams.append(self._conversation_id, batch))
        self._in_flight.append((batch, sent))
        sent.add_done_callback(self._answered)

    def _answered(self, _sent: asyncio.Future[None]) -> None:
        self._settle()
        if self._pending and self._may_send():
            self._send()  # what was broadcast meanwhile (one at a time)
        if self._closing:  # (a failure wakes the task in `_settle`)
            self._wake.set()

    def _settle(self) -> None:
        """Take the answered appends at the head of the ones in flight, in order."""
        while self._in_flight and self._in_flight[0][1].done():
            batch, sent = self._in_flight.popleft()
            error = sent.exception() if not sent.cancelled() else asyncio.CancelledError()
            if isinstance(error, StaleAppend):
                self._go_stale(error)
            elif error is not None and not self._stale:
                self._failed.append(batch)  # sent again, in order, before anything newer
        if self._failed:
            self._wake.set()

    async def _run(self) -> None:
        while True:
            self._settle()
            if self._failed and not self._in_flight:  # all the failed ones are known
                while self._failed and not self._stale:
                    await self._resend(self._failed[0])  # (on_event holds new ones back)
                    if self._failed:  # (emptied when it went stale)
                        self._failed.popleft()
                if self._pending and self._may_send():
                    self._send()
                continue
            if self._closing and not self._in_flight and not self._pending:
                return
            self._wake.clear()
            await self._wake.wait()

    async def _resend(self, batch: list[Entry]) -> None:
        for attempt in range(1, ATTEMPTS):
            await asyncio.sleep(RETRY_PAUSE * attempt)
            try:
                await self._streams.append(self._conversation_id, batch)
                return
            except NotOwner as stale:
                self._go_stale(stale)
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
        self._failed.clear()
        self._on_stale()
