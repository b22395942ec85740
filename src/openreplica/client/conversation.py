"""`Conversation`: one joined conversation, with ordering done for the application.

Received events are delivered in `seq` order, exactly once, by a `ResumingLink`
(`client/link.py`: reordering, reconnecting after drops and to fill gaps, the REST
fallback). `system.error` replies (no `seq`) are delivered at once. Delivered events
update the views (`turns`, `utterances`, `transcript()`), answer registered tools, wake
`wait_for` callers, and are queued for `async for event in conv`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from typing import Any, TypeVar

from openreplica.client import messages
from openreplica.client.clock import Clock, MonotonicClock
from openreplica.client.errors import ClientError, ConversationClosed
from openreplica.client.link import History, ReceivedEvent, ReconnectPolicy, ResumingLink
from openreplica.client.ordering import Gap
from openreplica.client.tools import ToolFunction, ToolOutcome, ToolRegistry
from openreplica.client.transport import Transport
from openreplica.client.views import ConversationView, Turn, Utterance
from openreplica.protocol import (
    Interaction,
    ReplicaStoppedSpeaking,
    SensitivityLevel,
    ToolCall,
    encode,
)
from openreplica.protocol import (
    Utterance as UtteranceEvent,
)
from openreplica.protocol.transcript import TranscriptEntry

__all__ = ["Conversation", "EventMatch", "History", "ReceivedEvent", "ReconnectPolicy"]

log = logging.getLogger(__name__)

#: an `event_type`, or a predicate over events
EventMatch = str | Callable[[ReceivedEvent], bool]
F = TypeVar("F", bound=ToolFunction)

_END = object()


class Conversation:
    """A joined conversation: typed helpers for every interaction, ordered events.

    Create it with `ReplicaClient.connect(...)` or `openreplica.client.connect(url)`;
    use it as an async context manager (`async with`) or call `close()`.
    """

    def __init__(
        self,
        conversation_id: str,
        transport: Transport,
        *,
        clock: Clock | None = None,
        reorder_wait: float = 0.5,
        policy: ReconnectPolicy | None = None,
        tools: ToolRegistry | None = None,
        history: History | None = None,
    ) -> None:
        self.conversation_id = conversation_id
        self.transport = transport
        self.policy = policy or ReconnectPolicy()
        #: tools answered automatically on `conversation.tool_call`
        self.tools = tools if tools is not None else ToolRegistry()
        #: turns, utterances and transcript, updated as events are delivered
        self.view = ConversationView()
        #: every tool call answered, in order
        self.tool_outcomes: list[ToolOutcome] = []
        self._link = ResumingLink(
            conversation_id,
            transport,
            deliver=self._deliver,
            ended=lambda: self.view.ended,
            clock=clock or MonotonicClock(),
            reorder_wait=reorder_wait,
            policy=self.policy,
            history=history,
        )
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._waiters: list[tuple[Callable[[ReceivedEvent], bool], asyncio.Future[Any]]] = []
        self._pump: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._answered: set[str] = set()
        self._done = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle

    async def start(self, last_seq: int | None = None) -> Conversation:
        """Connect. With `last_seq` (0 = everything retained) the events after it are
        replayed first; without, delivery starts with the first live event.

        Raises `NotAuthorised`, `ConversationNotFound`, `ConversationEnded`, or
        `ConnectionLost` when the server cannot be reached.
        """
        if self._pump is not None:
            raise RuntimeError("the conversation is already started")
        await self._link.connect(last_seq)
        self._pump = asyncio.create_task(self._run(), name=f"conversation-{self.conversation_id}")
        return self

    async def close(self) -> None:
        """Leave the conversation (idempotent). Pending `async for` loops end."""
        if self._pump is not None and not self._pump.done():
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)
        await self._finish()

    async def __aenter__(self) -> Conversation:
        if self._pump is None:
            await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def wait_closed(self) -> None:
        """Return once the conversation is over for this client (shutdown or close);
        raises the error that ended it, if one did."""
        await self._done.wait()
        if self._link.failure is not None:
            raise self._link.failure

    # ------------------------------------------------------------------ state

    @property
    def last_seq(self) -> int | None:
        """The last `seq` delivered."""
        return self._link.last_seq

    @property
    def ended(self) -> bool:
        """`system.shutdown` was delivered."""
        return self.view.ended

    @property
    def closed(self) -> bool:
        return self._link.closed

    @property
    def reconnects(self) -> int:
        """How many times the client reconnected (after a drop or to fill a gap)."""
        return self._link.reconnects

    @property
    def duplicates_dropped(self) -> int:
        return self._link.duplicates_dropped

    @property
    def skipped_gaps(self) -> list[Gap]:
        """Gaps given up on after `policy.gap_retries` reconnects (normally empty)."""
        return self._link.skipped_gaps

    @property
    def turns(self) -> dict[int, Turn]:
        return self.view.turns

    @property
    def utterances(self) -> list[Utterance]:
        return self.view.utterances

    def transcript(self) -> list[TranscriptEntry]:
        """The transcript so far, in the webhook's shape (SPEC §6)."""
        return self.view.transcript()

    # ------------------------------------------------------------------ events

    def __aiter__(self) -> AsyncIterator[ReceivedEvent]:
        return self.events()

    async def events(self) -> AsyncIterator[ReceivedEvent]:
        """Every event, in `seq` order, exactly once (`system.error` as it arrives).

        Ends after `system.shutdown` or `close()`; raises the error that ended the
        conversation otherwise (e.g. `ReconnectFailed`). Meant for one consumer.
        """
        while True:
            item = await self._queue.get()
            if item is _END:
                self._queue.put_nowait(_END)  # a second loop ends too
                if self._link.failure is not None:
                    raise self._link.failure
                return
            yield item

    def wait_for(self, match: EventMatch) -> asyncio.Future[ReceivedEvent]:
        """A future of the next delivered event matching `match` (an `event_type` or a
        predicate). Registered at once, so it can be created before the interaction
        that causes the event is sent. Fails with the error that ends the conversation.
        """
        predicate = _predicate(match)
        future: asyncio.Future[ReceivedEvent] = asyncio.get_running_loop().create_future()
        if self._done.is_set():
            future.set_exception(
                self._link.failure or ConversationClosed("the conversation is over")
            )
        else:
            self._waiters.append((predicate, future))
        return future

    async def wait_utterance(self, inference_id: str) -> Utterance:
        """The replica utterance `inference_id`, once it has stopped (spoken or cut off)."""
        current = self.view.utterance(inference_id)
        if current is not None and current.done:
            return current
        await self.wait_for(
            lambda e: isinstance(e, ReplicaStoppedSpeaking) and e.inference_id == inference_id
        )
        utterance = self.view.utterance(inference_id)
        assert utterance is not None
        return utterance

    # ------------------------------------------------------------------ interactions

    async def send(self, interaction: Interaction) -> None:
        """Send any interaction; waits out a reconnect in progress."""
        await self.send_encoded(encode(interaction))

    async def send_encoded(self, data: bytes) -> None:
        """Send one message as given (JSON); the server answers one it cannot accept with
        `system.error`. For passing on messages an application built itself."""
        await self._link.send(data)

    async def echo(self, text: str, *, inference_id: str | None = None) -> str:
        """Make the replica say exactly `text`; returns the utterance's `inference_id`."""
        inference_id = inference_id or _new_inference_id()
        await self.send(messages.echo_text(self.conversation_id, text, inference_id=inference_id))
        return inference_id

    async def say(self, text: str, *, inference_id: str | None = None) -> Utterance:
        """`echo` and wait until the replica has finished saying it."""
        inference_id = inference_id or _new_inference_id()
        done = self.wait_for(
            lambda e: isinstance(e, ReplicaStoppedSpeaking) and e.inference_id == inference_id
        )
        try:
            await self.echo(text, inference_id=inference_id)
            await done
        finally:
            done.cancel()
        return await self.wait_utterance(inference_id)

    async def echo_audio(
        self,
        chunks: Iterable[bytes] | AsyncIterable[bytes],
        *,
        sample_rate: int = messages.DEFAULT_ECHO_SAMPLE_RATE,
        inference_id: str | None = None,
    ) -> str:
        """Make the replica say this audio (16-bit little-endian mono PCM chunks, sent as
        they come; `done: true` on the last). Returns the utterance's `inference_id`."""
        inference_id = inference_id or _new_inference_id()
        pending: bytes | None = None
        async for chunk in _aiter(chunks):
            if pending is not None:
                await self._send_audio(pending, sample_rate, inference_id, done=False)
            pending = bytes(chunk)
        if pending is None:
            raise ValueError("echo_audio needs at least one chunk of audio")
        await self._send_audio(pending, sample_rate, inference_id, done=True)
        return inference_id

    async def _send_audio(self, pcm: bytes, rate: int, inference_id: str, *, done: bool) -> None:
        await self.send(
            messages.echo_audio_chunk(
                self.conversation_id, pcm, sample_rate=rate, inference_id=inference_id, done=done
            )
        )

    async def respond(self, text: str) -> None:
        """Speak for the user: a new turn that the LLM answers."""
        await self.send(messages.respond(self.conversation_id, text))

    async def ask(self, text: str) -> Turn:
        """`respond` and wait for the replica's first finished reply in the new turn."""
        committed = self.wait_for(
            lambda e: (
                isinstance(e, UtteranceEvent)
                and e.properties.role == "user"
                and e.properties.speech.strip() == text.strip()
            )
        )
        try:
            await self.respond(text)
            event = await committed
        finally:
            committed.cancel()
        turn_idx = event.turn_idx
        turn = self.view.turn(turn_idx) if turn_idx is not None else None
        if turn is None or not any(u.done for u in turn.replies):
            await self.wait_for(
                lambda e: isinstance(e, ReplicaStoppedSpeaking) and e.turn_idx == turn_idx
            )
        turn = self.view.turn(turn_idx) if turn_idx is not None else None
        assert turn is not None
        return turn

    async def interrupt(self) -> None:
        """Stop the replica speaking now and cancel any generation."""
        await self.send(messages.interrupt(self.conversation_id))

    async def overwrite_context(self, context: str) -> None:
        """Replace the conversational context used for the next generations."""
        await self.send(messages.overwrite_context(self.conversation_id, context))

    async def append_context(self, context: str, *, job_status: str | None = None) -> None:
        """Add to the conversational context without speaking."""
        await self.send(
            messages.append_context(self.conversation_id, context, job_status=job_status)
        )

    async def set_sensitivity(
        self, *, pause: SensitivityLevel | None = None, interrupt: SensitivityLevel | None = None
    ) -> None:
        """Change turn-taking live: `pause` and/or `interrupt` sensitivity levels."""
        await self.send(
            messages.sensitivity(self.conversation_id, pause=pause, interrupt=interrupt)
        )

    async def send_tool_result(
        self, tool_call_id: str, output: Any, *, name: str = "", status: str = "success"
    ) -> None:
        """Answer a `conversation.tool_call` by hand (registered tools are answered
        automatically); non-string `output` is sent as JSON text."""
        await self.send(
            messages.tool_result(
                self.conversation_id, tool_call_id, output, name=name, status=status
            )
        )

    def tool(self, fn: F) -> F:
        """Decorator: register `fn` as a tool of this conversation."""
        return self.tools.register(fn)

    def register_tool(self, fn: F, *, name: str | None = None) -> F:
        """Register `fn` (sync or async) as the tool `name` (default: its name)."""
        return self.tools.register(fn, name=name)

    # ------------------------------------------------------------------ delivery

    async def _run(self) -> None:
        try:
            await self._link.run()
        except ConversationClosed as error:
            self._link.failure = error
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # pragma: no cover - a bug in the client
            log.exception("conversation %s: client failure", self.conversation_id)
            self._link.failure = ConversationClosed(f"client failure: {exc!r}")
        finally:
            await self._finish()

    def _deliver(self, event: ReceivedEvent) -> None:
        self.view.apply(event)
        if isinstance(event, ToolCall):
            self._maybe_answer(event)
        still: list[tuple[Callable[[ReceivedEvent], bool], asyncio.Future[Any]]] = []
        for predicate, future in self._waiters:
            if future.done():
                continue
            if predicate(event):
                future.set_result(event)
            else:
                still.append((predicate, future))
        self._waiters = still
        self._queue.put_nowait(event)

    def _maybe_answer(self, call: ToolCall) -> None:
        props = call.properties
        if props.name not in self.tools:
            log.info("tool %r is not registered here; left to the application", props.name)
            return
        if props.tool_call_id in self._answered:
            return
        self._answered.add(props.tool_call_id)
        task = asyncio.create_task(self._answer(call), name=f"tool-{props.name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, call: ToolCall) -> None:
        outcome = await self.tools.run(call)
        self.tool_outcomes.append(outcome)
        try:
            await self.send(outcome.interaction(self.conversation_id))
        except ClientError as error:
            log.warning("could not send the result of tool %r: %s", outcome.name, error)

    async def _finish(self) -> None:
        if self._link.closed:
            return
        self._link.closed = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._link.detach()
        error = self._link.failure or ConversationClosed("the conversation is over")
        for _, future in self._waiters:
            if not future.done():
                future.set_exception(error)
        self._waiters = []
        self._queue.put_nowait(_END)
        self._done.set()
        self._link.notify()


def _predicate(match: EventMatch) -> Callable[[ReceivedEvent], bool]:
    if isinstance(match, str):
        return lambda event: event.event_type == match
    return match


def _new_inference_id() -> str:
    return f"client-{uuid.uuid4().hex[:16]}"


async def _aiter(chunks: Iterable[bytes] | AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    if isinstance(chunks, AsyncIterable):
        async for chunk in chunks:
            yield chunk
    else:
        for chunk in chunks:
            yield chunk
