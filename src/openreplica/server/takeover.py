"""Taking over a live conversation whose cluster node died (docs/scaling.md).

What a takeover needs and where it comes from:
- `seq` and the last timestamp: the newest event, from the conversation's event stream
  (Redis, written as events are broadcast) or the database, whichever is further;
- the LLM context and history and the turn index: the `conversation_states` row the
  owner saves at every turn boundary (`StateSaver`: a user utterance, the end of a replica
  utterance), then the events after it (user utterances, the words of replica
  utterances that were heard) applied on top;
- what the dead node left half done: a replica utterance without its end is ended as an
  interruption (`conversation.utterance.streaming` final with the words heard so far,
  `conversation.replica.stopped_speaking` and `conversation.stopped_speaking`
  interrupted), and user speech without its end gets its stopped events (the audio was
  on the dead node: its words are lost). Those `closing` events are the first the new
  owner sends; the replica then waits for the user, as after any interruption.

Lost in a takeover: the LLM tokens generated but not yet spoken, user speech in
progress, and `overwrite`/`append` context changes and tool results received after the
last turn boundary.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from openreplica.engine.io import ContextMessage
from openreplica.engine.perception import with_visual_context
from openreplica.protocol import (
    Event,
    ReplicaStartedSpeaking,
    ReplicaStoppedProps,
    ReplicaStoppedSpeaking,
    StoppedProps,
    StoppedSpeaking,
    StreamingProps,
    UserStartedSpeaking,
    UserStoppedSpeaking,
    Utterance,
    UtteranceStreaming,
    decode_event,
)
from openreplica.runtime import ConversationRuntime
from openreplica.server.store import ConversationState, EventRecord, Store

log = logging.getLogger(__name__)

__all__ = ["Restored", "StateSaver", "history_json", "messages_of", "restore"]


def history_json(history: tuple[ContextMessage, ...]) -> list[dict[str, Any]]:
    return [
        {
            "role": m.role,
            "content": m.content,
            "tool_call_id": m.tool_call_id,
            "name": m.name,
            "tool_calls": [list(call) for call in m.tool_calls],
        }
        for m in history
    ]


def messages_of(history: list[dict[str, Any]]) -> list[ContextMessage]:
    return [
        ContextMessage(
            role=m["role"],
            content=m["content"],
            tool_call_id=m.get("tool_call_id"),
            name=m.get("name"),
            tool_calls=tuple((str(c[0]), str(c[1]), str(c[2])) for c in m.get("tool_calls", [])),
        )
        for m in history
    ]


@dataclass
class Restored:
    """Where a conversation taken over continues from."""

    last_seq: int = 0
    last_timestamp: float = 0.0
    #: the engine's turn index (the last user turn) and the sequencer's (the highest seen)
    turn_idx: int = 0
    sequencer_turn_idx: int = 0
    #: the conversational context; None = the one the conversation was created with
    context: str | None = None
    history: list[ContextMessage] = field(default_factory=list)
    #: events (unsequenced) that end what the dead node left half done
    closing: list[Event] = field(default_factory=list)
    #: when the replica joined (for max_call_duration), if it had
    joined_at: float | None = None


@dataclass
class _OpenReply:
    turn_idx: int | None
    inference_id: str | None
    started_at: float
    heard: str = ""
    next_index: int = 0


def restore(
    conversation_id: str, state: ConversationState | None, events: list[EventRecord]
) -> Restored:
    """The state to continue from: `state` (may be None: no boundary was saved) with the
    events after it applied, and the events that close what was in flight."""
    out = Restored()
    after = 0
    if state is not None:
        out.turn_idx, out.context, after = state.turn_idx, state.context, state.last_seq
        out.history = messages_of(state.history)
    reply: _OpenReply | None = None
    user_since: float | None = None
    for record in events:
        event = decode_event(record.data)
        out.last_seq, out.last_timestamp = record.seq, max(out.last_timestamp, record.timestamp)
        newer = record.seq > after
        if event.turn_idx is not None:
            out.sequencer_turn_idx = max(out.sequencer_turn_idx, event.turn_idx)
        match event:
            case _ if event.event_type == "system.replica_joined":
                out.joined_at = out.joined_at or record.timestamp
            case ReplicaStartedSpeaking():
                reply = _OpenReply(event.turn_idx, event.inference_id, record.timestamp)
            case UtteranceStreaming(properties=props) if props.role == "replica":
                if reply is not None:
                    reply.heard, reply.next_index = props.speech, props.content_index + 1
                if props.final and newer and props.speech:
                    out.history.append(ContextMessage(role="assistant", content=props.speech))
            case ReplicaStoppedSpeaking():
                reply = None
            case Utterance(properties=props) if props.role == "user":
                out.turn_idx = max(out.turn_idx, event.turn_idx or 0)
                if newer:
                    text = with_visual_context(props.speech, props.visual_context or "")
                    out.history.append(ContextMessage(role="user", content=text))
            case UserStartedSpeaking():
                user_since = record.timestamp
            case UserStoppedSpeaking():
                user_since = None
            case _:
                pass
    if reply is not None:
        out.closing += _end_reply(conversation_id, reply, out.last_timestamp)
        if reply.heard:
            out.history.append(ContextMessage(role="assistant", content=reply.heard))
    if user_since is not None:
        duration = round(max(0.0, out.last_timestamp - user_since), 3)
        out.closing += [
            UserStoppedSpeaking(conversation_id=conversation_id),
            StoppedSpeaking(
                conversation_id=conversation_id,
                properties=StoppedProps(role="user", interrupted=False, duration=duration),
            ),
        ]
    return out


def _end_reply(conversation_id: str, reply: _OpenReply, now: float) -> list[Event]:
    tags: dict[str, Any] = {
        "conversation_id": conversation_id,
        "turn_idx": reply.turn_idx,
        "inference_id": reply.inference_id,
    }
    duration = round(max(0.0, now - reply.started_at), 3)
    return [
        UtteranceStreaming(
            **tags,
            properties=StreamingProps(
                role="replica",
                speech=reply.heard,
                content_index=reply.next_index,
                final=True,
                is_interrupted=True,
            ),
        ),
        ReplicaStoppedSpeaking(
            **tags, properties=ReplicaStoppedProps(duration=duration, interrupted=True)
        ),
        StoppedSpeaking(
            **tags, properties=StoppedProps(role="replica", interrupted=True, duration=duration)
        ),
    ]


_BOUNDARIES = frozenset({"conversation.utterance", "conversation.replica.stopped_speaking"})


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """The state at a boundary as the engine holds it (converted when it is saved)."""

    last_seq: int
    turn_idx: int
    context: str
    history: tuple[ContextMessage, ...]
    updated_at: float


class StateSaver:
    """A runtime listener saving the LLM state at each turn boundary, off the hot path:
    the event only takes a snapshot (the history is an immutable tuple); converting and
    writing it wait until the event's deliveries have run (the newest state wins; one
    write at a time)."""

    def __init__(
        self,
        store: Store,
        runtime: ConversationRuntime,
        now: Callable[[], float],
        owner: str | None = None,
    ):
        """`owner`: the cluster node this is; the state is saved only while it hosts the
        conversation (`Store.save_state`: a node fenced off late never overwrites the
        state of the node that took it over)."""
        self._store = store
        self._owner = owner
        self._runtime = runtime
        self._now = now
        self._latest: _Snapshot | None = None
        self._wake = asyncio.Event()
        self._closing = False
        self._task = asyncio.create_task(self._run(), name=f"state-{runtime.conversation_id}")

    def on_event(self, event: Event, _data: bytes) -> None:
        if event.seq is None or event.event_type not in _BOUNDARIES:
            return
        engine = self._runtime.engine
        self._latest = _Snapshot(
            event.seq,
            engine.turn_idx,
            engine.context.context,
            engine.context.history,
            self._now(),
        )
        self._wake.set()

    async def aclose(self) -> None:
        self._closing = True
        self._wake.set()
        with contextlib.suppress(Exception):
            await self._task

    async def _run(self) -> None:
        while not (self._closing and self._latest is None):
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(0)  # after the sends the same event woke
            snapshot, self._latest = self._latest, None
            if snapshot is None:
                continue
            state = ConversationState(
                self._runtime.conversation_id,
                snapshot.last_seq,
                snapshot.turn_idx,
                snapshot.context,
                history_json(snapshot.history),
                snapshot.updated_at,
            )
            try:
                await self._store.save_state(state, self._owner)
            except Exception as exc:  # the next boundary saves again
                log.warning("%s: saving the live state failed (%s)", state.conversation_id, exc)
