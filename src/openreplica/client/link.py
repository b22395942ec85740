"""`ResumingLink`: one conversation's connection, kept whole across drops and gaps.

Frames read from the current `Connection` go through a `ReorderBuffer` and reach
`deliver` in `seq` order, exactly once. A hole that outlasts the bounded wait, or a
dropped connection, is filled by reconnecting with `last_seq` (the server replays what
was missed, SPEC §3 rule 7); a gap asked for `policy.gap_retries` times is skipped. When
the server refuses for good, the events missed are fetched from `history` (REST) if the
conversation ended meanwhile. What is done with a delivered event is the
`Conversation`'s business (`client/conversation.py`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from openreplica.client.clock import Clock
from openreplica.client.errors import (
    ClientError,
    ConnectionLost,
    ConversationClosed,
    ConversationEnded,
    ReconnectFailed,
    closed_error,
)
from openreplica.client.ordering import Gap, ReorderBuffer
from openreplica.client.transport import Connection, Transport
from openreplica.protocol import AnyEvent, ProtocolError, Shutdown, UnknownEvent, decode_event

__all__ = ["History", "ReceivedEvent", "ReconnectPolicy", "ResumingLink"]

log = logging.getLogger(__name__)

ReceivedEvent = AnyEvent | UnknownEvent
#: fetches the encoded events after a `seq` from elsewhere (REST), for a conversation that
#: ended while the client was disconnected
History = Callable[[int], Awaitable[list[bytes]]]

_TIMEOUT = object()


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """How hard the client tries to get back events it missed."""

    #: connection attempts after a drop before giving up (`ReconnectFailed`)
    attempts: int = 6
    #: delay before the second attempt, doubled after each failure up to `max_delay`
    first_delay: float = 0.1
    max_delay: float = 2.0
    #: reconnects asked for one gap before it is skipped (recorded in `skipped_gaps`)
    gap_retries: int = 2


class ResumingLink:
    """Connects, reads, reorders, reconnects; hands ordered events to `deliver`.

    `ended()` says whether `system.shutdown` was delivered (the owner's view knows).
    The owner marks the link `closed` (with the `failure` that ended it, if any) when the
    conversation is over for this client.
    """

    def __init__(
        self,
        name: str,
        transport: Transport,
        *,
        deliver: Callable[[ReceivedEvent], None],
        ended: Callable[[], bool],
        clock: Clock,
        reorder_wait: float,
        policy: ReconnectPolicy,
        history: History | None,
    ) -> None:
        self.name = name
        self.transport = transport
        self.policy = policy
        #: how many times the client reconnected (after a drop or to fill a gap)
        self.reconnects = 0
        #: the error that ended the conversation, if one did
        self.failure: ConversationClosed | None = None
        #: the conversation is over for this client: nothing more is sent
        self.closed = False
        self._deliver = deliver
        self._ended = ended
        self._clock = clock
        self._reorder_wait = reorder_wait
        self._history = history
        self._buffer: ReorderBuffer[ReceivedEvent] = ReorderBuffer(reorder_wait)
        self._inbox: asyncio.Queue[tuple[int, bytes | str | ConnectionLost]] = asyncio.Queue()
        self._conn: Connection | None = None
        self._generation = 0
        self._reader: asyncio.Task[None] | None = None
        self._gap_attempts: dict[int, int] = {}
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ state

    @property
    def last_seq(self) -> int | None:
        """The last `seq` delivered."""
        return self._buffer.last_seq

    @property
    def duplicates_dropped(self) -> int:
        return self._buffer.duplicates

    @property
    def skipped_gaps(self) -> list[Gap]:
        return list(self._buffer.skipped)

    # ------------------------------------------------------------------ use

    async def connect(self, last_seq: int | None) -> None:
        """The first connection; replays the events after `last_seq` when given."""
        self._buffer = ReorderBuffer(self._reorder_wait, last_seq)
        try:
            conn = await self.transport.connect(last_seq)
        except ConnectionLost as lost:
            raise closed_error(lost) or lost from None
        self._attach(conn)

    async def run(self) -> None:
        """Deliver events until `system.shutdown`; raises the `ConversationClosed` that
        ends it otherwise (e.g. `ReconnectFailed`)."""
        while not self._ended():
            item = await self._next(self._buffer.deadline())
            if item is _TIMEOUT:
                await self._on_gap()
                continue
            generation, payload = item
            if generation != self._generation:
                continue
            if isinstance(payload, ConnectionLost):
                await self._recover(payload)
                continue
            self._on_frame(payload)
            if self._buffer.gap(self._clock.now()) is not None:
                await self._on_gap()

    async def send(self, data: bytes) -> None:
        """Send one message; waits out a reconnect in progress."""
        stale: Connection | None = None
        for _ in range(self.policy.attempts + 1):
            conn = await self._connection(stale)
            try:
                await conn.send(data)
                return
            except ConnectionLost:
                stale = conn  # the reader sees it too and the pump reconnects
        raise ReconnectFailed("could not send: the connection keeps dropping")

    async def detach(self) -> None:
        """Close the current connection (if any) and stop reading it."""
        conn, reader = self._conn, self._reader
        self._conn, self._reader = None, None
        self._generation += 1  # anything still queued from the old connection is stale
        if reader is not None:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        if conn is not None:
            await conn.close()

    def notify(self) -> None:
        """Wake senders waiting for a connection (one appeared, or the end came)."""
        self._changed.set()
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ connection

    async def _connection(self, stale: Connection | None) -> Connection:
        while True:
            if self.failure is not None:
                raise self.failure
            if self.closed or self._ended():
                raise ConversationEnded("the conversation is over")
            if self._conn is not None and self._conn is not stale:
                return self._conn
            await self._changed.wait()

    def _attach(self, conn: Connection) -> None:
        self._generation += 1
        self._conn = conn
        self._reader = asyncio.create_task(self._read(conn, self._generation), name="reader")
        self.notify()

    async def _read(self, conn: Connection, generation: int) -> None:
        try:
            while True:
                self._inbox.put_nowait((generation, await conn.recv()))
        except ConnectionLost as lost:
            self._inbox.put_nowait((generation, lost))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a transport bug: treat as a drop, reconnect
            self._inbox.put_nowait((generation, ConnectionLost(None, repr(exc))))

    async def _next(self, deadline: float | None) -> Any:
        if not self._inbox.empty() or deadline is None:
            return await self._inbox.get()
        get = asyncio.ensure_future(self._inbox.get())
        timer = asyncio.ensure_future(self._clock.sleep_until(deadline))
        try:
            await asyncio.wait({get, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            if not get.done():
                get.cancel()
        if get.done() and not get.cancelled():
            return get.result()
        return _TIMEOUT

    # ------------------------------------------------------------------ ordering

    def _on_frame(self, data: bytes | str) -> None:
        try:
            event = decode_event(data)
        except ProtocolError as error:
            log.warning("conversation %s: dropped an invalid event: %s", self.name, error)
            return
        for ready in self._buffer.push(event, self._clock.now()):
            self._hand_over(ready)

    def _hand_over(self, event: ReceivedEvent) -> None:
        self._deliver(event)
        if isinstance(event, Shutdown):
            self.notify()

    # ------------------------------------------------------------------ recovery

    async def _on_gap(self) -> None:
        gap = self._buffer.gap(self._clock.now())
        if gap is None:
            return
        tries = self._gap_attempts[gap.first] = self._gap_attempts.get(gap.first, 0) + 1
        if tries > self.policy.gap_retries:
            log.warning("conversation %s: giving up on %s", self.name, gap)
            for event in self._buffer.skip(self._clock.now()):
                self._hand_over(event)
            return
        log.info("conversation %s: %s missing; reconnecting", self.name, gap)
        await self._reconnect()
        self._buffer.restart_wait(self._clock.now())

    async def _recover(self, lost: ConnectionLost) -> None:
        terminal = closed_error(lost)
        if terminal is not None:
            await self.detach()
            await self._fill_from_history(terminal)
            return
        log.info("conversation %s: %s; reconnecting", self.name, lost)
        await self._reconnect()

    async def _reconnect(self) -> None:
        await self.detach()
        delay = self.policy.first_delay
        last: ConnectionLost | None = None
        for attempt in range(self.policy.attempts):
            if attempt:
                await self._clock.sleep_until(self._clock.now() + delay)
                delay = min(delay * 2, self.policy.max_delay)
            try:
                conn = await self.transport.connect(self._buffer.last_seq)
            except ConnectionLost as lost:
                terminal = closed_error(lost)
                if terminal is not None:
                    await self._fill_from_history(terminal)
                    return
                last = lost
                continue
            self.reconnects += 1
            self._attach(conn)
            return
        raise ReconnectFailed(
            f"lost the connection and {self.policy.attempts} reconnects failed ({last})"
        )

    async def _fill_from_history(self, terminal: ConversationClosed) -> None:
        """The server refused us for good: if the conversation ended while we were away,
        fetch what we missed over REST; end with `terminal` unless the shutdown arrived."""
        replaying = self._buffer.last_seq is not None  # we have a position to resume from
        if isinstance(terminal, ConversationEnded) and self._history is not None and replaying:
            try:
                frames = await self._history(self._buffer.last_seq or 0)
            except ClientError as error:
                log.warning("could not fetch the missed events: %s", error)
                frames = []
            for frame in frames:
                self._on_frame(frame)
            while not self._ended() and self._buffer.held:
                for event in self._buffer.skip(self._clock.now()):
                    self._hand_over(event)
        if not self._ended():
            raise terminal
