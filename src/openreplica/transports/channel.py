"""One participant's data channel on one conversation, whatever carries the bytes.

The WebSocket endpoint and the WebRTC `app-message` channel both wrap this:
- incoming: size limit, rate limit, decode + validate, `system.resume`, then the
  interaction goes to the runtime; every refusal is one `system.error` to this sender
  only, and nothing else changes (SPEC §2.3);
- outgoing: every broadcast event in `seq` order; a resume or `last_seq` replays what was
  missed first and then goes on live, with no gap and no duplicate (SPEC §3 rule 7).

Sends are queued and drained by one task per channel, so a slow peer never blocks the
conversation; a peer that falls `max_queued` messages behind is cut off (it can resume).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from openreplica.protocol import (
    DEFAULT_MAX_MESSAGE_BYTES,
    ErrorCode,
    ErrorEvent,
    ErrorProps,
    Event,
    ProtocolError,
    Resume,
    decode_interaction,
    encode,
)
from openreplica.runtime import Clock, ConversationRuntime
from openreplica.transports.rate_limit import TokenBucket

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
    ) -> None:
        self.runtime = runtime
        self.limits = limits = limits or ChannelLimits()
        self._send = send
        self._clock = clock
        self._history = history
        self._bucket = TokenBucket(limits.rate, limits.burst, clock.now())
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._last_sent = 0
        self._buffer: list[tuple[int, bytes]] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._sender: asyncio.Task[None] | None = None
        #: set when the conversation has shut down and its last event was sent
        self.finished = asyncio.Event()
        self.overflowed = False

    # ------------------------------------------------------------------ lifecycle

    async def open(self, last_seq: int | None = None) -> None:
        """Start delivering: live events only, or everything after `last_seq` first."""
        self._last_sent = self.runtime.sequencer.last_seq if last_seq is None else last_seq
        self._unsubscribe = self.runtime.subscribe(self._on_event)
        self._sender = asyncio.create_task(self._drain(), name="channel-sender")
        if last_seq is not None:
            await self._replay(last_seq)
        elif self.runtime.ended:
            self._queue.put_nowait(None)

    async def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._sender is not None:
            self._sender.cancel()
            await asyncio.gather(self._sender, return_exceptions=True)

    # ------------------------------------------------------------------ incoming

    def receive(self, data: bytes | str) -> None:
        """Handle one message from the peer."""
        if not self._bucket.allow(self._clock.now()):
            self.runtime.observer.interaction_refused(ErrorCode.RATE_LIMITED.value)
            self._reply_error(
                ErrorCode.RATE_LIMITED,
                f"more than {self.limits.rate:g} messages per second (burst "
                f"{self.limits.burst}); this message was dropped, slow down",
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
            asyncio.get_running_loop().create_task(self._replay(interaction.properties.last_seq))
            return
        self.runtime.submit(interaction, lambda _, data: self._enqueue(data))

    def _reply_error(self, code: ErrorCode, message: str, event_type: str | None) -> None:
        error = ErrorEvent(
            conversation_id=self.runtime.conversation_id,
            timestamp=self._clock.now(),
            properties=ErrorProps(code=code.value, message=message, event_type=event_type),
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
        self._enqueue(data)

    def _enqueue(self, data: bytes) -> None:
        if self._queue.qsize() >= self.limits.max_queued:
            self.overflowed = True
            self._queue.put_nowait(None)
            return
        self._queue.put_nowait(data)

    async def _replay(self, after_seq: int) -> None:
        """Send every event after `after_seq`, then continue live with no gap."""
        self._buffer = []
        try:
            log = self.runtime.sequencer.log
            replay: list[tuple[int, bytes]]
            if not log.covers(after_seq) and self._history is not None:
                replay = await self._history(after_seq)
            else:
                if not log.covers(after_seq):
                    self._reply_error(
                        ErrorCode.REPLAY_UNAVAILABLE,
                        f"events {after_seq + 1}..{(log.first_seq or 1) - 1} are no longer "
                        f"retained; replaying from {log.first_seq}",
                        "system.resume",
                    )
                replay = [(e.seq or 0, encode(e)) for e in log.replay(after_seq)]
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
        while True:
            data = await self._queue.get()
            if data is None:
                self.finished.set()
                return
            await self._send(data)
