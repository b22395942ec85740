"""One participant's data channel on one conversation, whatever carries the bytes.

The WebSocket endpoint and the WebRTC `app-message` channel both wrap this:
- incoming: rate limits (this connection's, then the conversation's, shared by all its
  connections), size limit, decode + validate, `system.resume`, then the interaction
  goes to the runtime; every refusal is one `system.error` to this sender only, and
  nothing else changes (SPEC §2.3). Once the runtime is halted (the conversation moves
  to another cluster node) every message is refused with `conversation_moving`. A bug
  met while handling one message is answered with `internal_error` and logged once per
  connection: it never closes the connection nor loses the replies already queued;
- outgoing: every broadcast event in `seq` order; a resume or `last_seq` replays what was
  missed first and then goes on live, with no gap and no duplicate (SPEC §3 rule 7).
  Resumes run one at a time. A `last_seq` beyond the newest event gets
  `invalid_properties` and the connection goes on live from the newest event.

Sends are queued and drained by one task per channel, so a slow peer never blocks the
conversation; a peer that falls `max_queued` messages behind is cut off (it can resume).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from openreplica.protocol import (
    DEFAULT_MAX_MESSAGE_BYTES,
    ErrorCode,
    Event,
    ProtocolError,
    Resume,
    decode_interaction,
    encode,
    error_event,
)
from openreplica.runtime import Clock, ConversationRuntime
from openreplica.transports.rate_limit import TokenBucket

log = logging.getLogger(__name__)

Send = Callable[[bytes], Awaitable[None]]
#: loads encoded events with seq > n from durable storage (for replays older than the
#: in-memory log); None when there is no storage
History = Callable[[int], Awaitable[list[tuple[int, bytes]]]]


@dataclass(frozen=True, slots=True)
class ChannelLimits:
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    #: interactions per second per connection (token bucket), and the burst allowed
    rate: float = 20.0
    burst: int = 40
    max_queued: int = 20_000


class ConversationChannel:
    def __init__(
        self,
        runtime: ConversationRuntime,
        send: Send,
        clock: Clock,
        limits: ChannelLimits | None = None,
        history: History | None = None,
        conversation_bucket: TokenBucket | None = None,
        *,
        sequenced: bool = True,
    ) -> None:
        """`conversation_bucket` is the rate limit shared by every connection of the
        conversation (None = only this connection's own limit applies). `sequenced=False`:
        the peer gets the sequenced events another way (a cluster relay reads them from
        the conversation's event stream); only what is meant for this peer alone (its
        errors, unsequenced broadcasts) goes to `send`, and `finished` is still set after
        `system.shutdown`."""
        self._sequenced = sequenced
        self.runtime = runtime
        self.limits = limits = limits or ChannelLimits()
        self._send = send
        self._clock = clock
        self._history = history
        self._bucket = TokenBucket(limits.rate, limits.burst, clock.now())
        self._conversation_bucket = conversation_bucket
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._last_sent = 0
        self._buffer: list[tuple[int, bytes]] | None = None
        self._replaying = asyncio.Lock()
        self._resumes: set[asyncio.Task[None]] = set()
        self._failed_once = False
        self._unsubscribe: Callable[[], None] | None = None
        self._sender: asyncio.Task[None] | None = None
        #: set when the conversation has shut down and its last event was sent
        self.finished = asyncio.Event()
        self.overflowed = False
        #: the sender is waiting with nothing queued (`sent`)
        self._idle = asyncio.Event()
        self._sending = False

    # ------------------------------------------------------------------ lifecycle

    async def open(self, last_seq: int | None = None) -> None:
        """Start delivering: live events only, or everything after `last_seq` first."""
        newest = self.runtime.sequencer.last_seq
        self._last_sent = newest if last_seq is None else min(last_seq, newest)
        self._unsubscribe = self.runtime.subscribe(self._on_event)
        self._sender = asyncio.create_task(self._drain(), name="channel-sender")
        if last_seq is not None:
            await self._resume(last_seq)
        elif self.runtime.ended:
            self._queue.put_nowait(None)

    async def sent(self) -> None:
        """Return once everything queued so far has gone to the peer (or the sender
        stopped: a peer gone, the last event sent)."""
        while not self._queue.empty() or self._sending:
            if self._sender is None or self._sender.done():
                return
            self._idle.clear()
            await self._idle.wait()

    async def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        tasks = [*self._resumes, *([self._sender] if self._sender else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ------------------------------------------------------------------ incoming

    def receive(self, data: bytes | str) -> None:
        """Handle one message from the peer; never raises."""
        try:
            self._receive(data)
        except Exception:
            self._internal_error("handling a message")

    def _receive(self, data: bytes | str) -> None:
        if self.runtime.halted:  # another node goes on with it: refused, never dropped
            self.runtime.observer.interaction_refused(ErrorCode.CONVERSATION_MOVING.value)
            self._reply_error(
                ErrorCode.CONVERSATION_MOVING,
                "the conversation is moving to another node: this message was not "
                "handled; reconnect with last_seq and send it again",
                None,
            )
            return
        now = self._clock.now()
        if not self._bucket.allow(now):
            self.runtime.observer.interaction_refused(ErrorCode.RATE_LIMITED.value)
            self._reply_error(
                ErrorCode.RATE_LIMITED,
                f"more than {self.limits.rate:g} messages per second on this connection "
                f"(burst {self.limits.burst}); this message was dropped, slow down",
                None,
            )
            return
        shared = self._conversation_bucket
        if shared is not None and not shared.allow(now):
            self.runtime.observer.interaction_refused(ErrorCode.RATE_LIMITED.value)
            self._reply_error(
                ErrorCode.RATE_LIMITED,
                f"more than {shared.rate:g} messages per second on this conversation, all "
                f"connections together (burst {shared.burst}); this message was dropped, "
                "slow down",
                None,
            )
            return
        try:
            interaction = decode_interaction(
                data,
                conversation_id=self.runtime.conversation_id,
                max_bytes=self.limits.max_message_bytes,
            )
        except ProtocolError as error:
            self.runtime.observer.interaction_refused(error.code.value)
            self._reply_error(error.code, error.message, error.event_type)
            return
        if isinstance(interaction, Resume):
            task = asyncio.get_running_loop().create_task(
                self._resume(interaction.properties.last_seq), name="channel-resume"
            )
            self._resumes.add(task)
            task.add_done_callback(self._resumes.discard)
            return
        self.runtime.submit(interaction, lambda _, data: self._enqueue(data))

    def _internal_error(self, doing: str) -> None:
        """A bug, not bad input: answer the sender, keep the connection, log once."""
        if not self._failed_once:
            self._failed_once = True
            log.exception(
                "%s: failed %s (later failures on this connection are logged at debug)",
                self.runtime.conversation_id,
                doing,
            )
        else:
            log.debug("%s: failed %s", self.runtime.conversation_id, doing, exc_info=True)
        self._reply_error(
            ErrorCode.INTERNAL_ERROR,
            f"the server failed {doing}; it was dropped and the conversation goes on",
            None,
        )

    def _reply_error(self, code: ErrorCode, message: str, event_type: str | None) -> None:
        error = error_event(
            self.runtime.conversation_id,
            code,
            message,
            timestamp=self._clock.now(),
            event_type=event_type,
        )
        self._enqueue(encode(error))

    # ------------------------------------------------------------------ outgoing

    def _on_event(self, event: Event, data: bytes) -> None:
        if event.seq is None:  # an unsequenced broadcast (a plugin failure)
            self._enqueue(data)
            return
        if self._buffer is not None:  # a replay is being assembled: hold live events
            self._buffer.append((event.seq, data))
            return
        self._deliver(event.seq, data)
        if event.event_type == "system.shutdown":
            self._queue.put_nowait(None)  # the last event: the transport may close now

    def _deliver(self, seq: int, data: bytes) -> None:
        if seq <= self._last_sent:
            return  # already sent (replay overlap): never a duplicate
        self._last_sent = seq
        if self._sequenced:
            self._enqueue(data)

    def _enqueue(self, data: bytes) -> None:
        if self._queue.qsize() >= self.limits.max_queued:
            self.overflowed = True
            self._queue.put_nowait(None)
            return
        self._queue.put_nowait(data)

    async def _resume(self, after_seq: int) -> None:
        """Replay after `after_seq` (one replay at a time), answering what cannot be."""
        try:
            async with self._replaying:
                newest = self.runtime.sequencer.last_seq
                if after_seq > newest:
                    self._reply_error(
                        ErrorCode.INVALID_PROPERTIES,
                        f"`last_seq` {after_seq} is beyond the newest event ({newest}); "
                        "nothing to replay, events continue live",
                        "system.resume",
                    )
                    return
                await self._replay(after_seq)
        except asyncio.CancelledError:
            raise
        except Exception:
            self._internal_error("replaying events")

    async def _replay(self, after_seq: int) -> None:
        """Send every event after `after_seq`, then continue live with no gap."""
        self._buffer = []
        try:
            retained = self.runtime.sequencer.log
            replay: list[tuple[int, bytes]]
            if not retained.covers(after_seq) and self._history is not None:
                replay = await self._history(after_seq)
            else:
                if not retained.covers(after_seq):
                    self._reply_error(
                        ErrorCode.REPLAY_UNAVAILABLE,
                        f"events {after_seq + 1}..{(retained.first_seq or 1) - 1} are no "
                        f"longer retained; replaying from {retained.first_seq}",
                        "system.resume",
                    )
                replay = [(e.seq or 0, encode(e)) for e in retained.replay(after_seq)]
            self._last_sent = min(self._last_sent, after_seq)
            for seq, data in replay:
                self._deliver(seq, data)
        finally:
            buffered, self._buffer = self._buffer, None
        for seq, data in buffered:
            self._deliver(seq, data)
        if self.runtime.ended:
            self._queue.put_nowait(None)

    async def _drain(self) -> None:
        try:
            while True:
                if self._queue.empty():
                    self._idle.set()
                data = await self._queue.get()
                if data is None:
                    self.finished.set()
                    return
                self._sending = True
                try:
                    await self._send(data)
                finally:
                    self._sending = False
        finally:
            self._idle.set()
