"""Views over the ordered event stream: turns, utterances, the transcript.

`ConversationView.apply(event)` folds one event (in `seq` order) into:
- `Utterance`: one thing said. A replica utterance reconciles, by `inference_id`, the
  `conversation.utterance` text (what was generated), the `utterance.streaming` text
  (what was heard: the final streaming event holds exactly the words played) and the
  speaking events (when, how long, whether it was cut off). A user utterance is one
  committed user turn (spoken, or a `conversation.respond`).
- `Turn`: every event carrying one `turn_idx`, with its user utterance, the replica's
  replies and the tool calls.
- the transcript, in the webhook's shape (SPEC §6), by the one builder
  (`openreplica.protocol.transcript.TranscriptBuilder`), fed as events are applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from openreplica.protocol import (
    ErrorEvent,
    Event,
    ReplicaStartedSpeaking,
    ReplicaStoppedSpeaking,
    Role,
    Shutdown,
    ToolCall,
    UnknownEvent,
    UserStartedSpeaking,
    UserStoppedSpeaking,
    UtteranceStreaming,
)
from openreplica.protocol import (
    Utterance as UtteranceEvent,
)
from openreplica.protocol.transcript import TranscriptBuilder, TranscriptEntry, is_replica_speech

__all__ = ["ConversationView", "Turn", "Utterance"]

AnyReceived = Event | UnknownEvent


@dataclass
class Utterance:
    """One utterance, reconciled from its events."""

    role: Role
    inference_id: str | None = None
    turn_idx: int | None = None
    #: the full text: `conversation.utterance` (for the replica: what was generated)
    text: str = ""
    #: what was heard so far: the latest streaming text (final: exactly what was played)
    heard: str = ""
    #: the final `utterance.streaming` event was seen
    final: bool = False
    interrupted: bool = False
    #: seconds of audio played (replica) or spoken (user), when known
    duration: float | None = None
    #: event timestamps: speech started / ended
    started_at: float | None = None
    ended_at: float | None = None
    #: replica: `replica.stopped_speaking` seen; user: the turn was committed
    done: bool = False
    events: list[AnyReceived] = field(default_factory=list, repr=False)

    @property
    def spoken(self) -> str:
        """What the listener got: the heard words once final, else the full text."""
        if self.final:
            return self.heard
        return self.text or self.heard


@dataclass
class Turn:
    """Everything that happened in one turn (one `turn_idx`)."""

    turn_idx: int
    events: list[AnyReceived] = field(default_factory=list, repr=False)
    user: Utterance | None = None
    replies: list[Utterance] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)

    @property
    def started_at(self) -> float | None:
        """Timestamp of the turn's first event."""
        return next((e.timestamp for e in self.events if e.timestamp is not None), None)

    @property
    def reply_text(self) -> str:
        """The replica's replies in this turn, as heard, joined by spaces."""
        return " ".join(u.spoken for u in self.replies if u.spoken)


class ConversationView:
    """Turns, utterances and the transcript of one conversation, updated event by event."""

    def __init__(self) -> None:
        #: every broadcast (sequenced) event applied, in order
        self.events: list[AnyReceived] = []
        #: `system.error` replies received (they have no `seq`)
        self.errors: list[ErrorEvent] = []
        self.turns: dict[int, Turn] = {}
        #: every utterance, in the order it began
        self.utterances: list[Utterance] = []
        self._replica: dict[str, Utterance] = {}
        self._user_started: float | None = None
        self._user_spoke = 0.0
        #: `system.shutdown`'s reason once the conversation has ended
        self.shutdown_reason: str | None = None
        self.start_time: float | None = None
        self._transcript = TranscriptBuilder()

    @property
    def ended(self) -> bool:
        return self.shutdown_reason is not None

    def utterance(self, inference_id: str) -> Utterance | None:
        """The replica utterance with this `inference_id`, if it has begun."""
        return self._replica.get(inference_id)

    def turn(self, turn_idx: int) -> Turn | None:
        return self.turns.get(turn_idx)

    def transcript(self) -> list[TranscriptEntry]:
        """The webhook-shaped transcript of the events so far (SPEC §6)."""
        return self._transcript.entries()

    def apply(self, event: AnyReceived) -> Utterance | None:
        """Fold one event in; returns the utterance it changed, if any."""
        if isinstance(event, ErrorEvent):
            self.errors.append(event)
            return None
        self.events.append(event)
        self._transcript.add(event)
        if self.start_time is None and event.timestamp is not None:
            self.start_time = event.timestamp
        turn = self._turn_of(event)
        if isinstance(event, UnknownEvent):
            return None
        if isinstance(event, Shutdown):
            self.shutdown_reason = event.properties.shutdown_reason
            return None
        if isinstance(event, ToolCall) and turn is not None:
            turn.tool_calls.append(event)
        if isinstance(event, UserStartedSpeaking):
            self._user_started = event.timestamp
        elif isinstance(event, UserStoppedSpeaking):
            if self._user_started is not None and event.timestamp is not None:
                self._user_spoke += max(0.0, event.timestamp - self._user_started)
        elif isinstance(event, UtteranceEvent) and event.properties.role == "user":
            return self._user_utterance(event, turn)
        if event.inference_id is not None and is_replica_speech(event):
            return self._replica_event(event, turn)
        return None

    def _turn_of(self, event: AnyReceived) -> Turn | None:
        if event.turn_idx is None:
            return None
        turn = self.turns.get(event.turn_idx)
        if turn is None:
            turn = self.turns[event.turn_idx] = Turn(event.turn_idx)
        turn.events.append(event)
        return turn

    def _user_utterance(self, event: UtteranceEvent, turn: Turn | None) -> Utterance:
        speech = event.properties.speech
        started = self._user_started
        utterance = Utterance(
            role="user",
            turn_idx=event.turn_idx,
            text=speech,
            heard=speech,
            final=True,
            duration=round(self._user_spoke, 3),
            started_at=started if started is not None else event.timestamp,
            ended_at=event.timestamp,
            done=True,
            events=[event],
        )
        self._user_started, self._user_spoke = None, 0.0
        self.utterances.append(utterance)
        if turn is not None:
            turn.user = utterance
        return utterance

    def _replica_event(self, event: Event, turn: Turn | None) -> Utterance:
        assert event.inference_id is not None
        utterance = self._replica.get(event.inference_id)
        if utterance is None:
            utterance = Utterance(
                role="replica", inference_id=event.inference_id, turn_idx=event.turn_idx
            )
            self._replica[event.inference_id] = utterance
            self.utterances.append(utterance)
            if turn is not None:
                turn.replies.append(utterance)
        utterance.events.append(event)
        if isinstance(event, ReplicaStartedSpeaking):
            utterance.started_at = event.timestamp
        elif isinstance(event, UtteranceEvent):
            utterance.text = event.properties.speech
        elif isinstance(event, UtteranceStreaming):
            utterance.heard = event.properties.speech
            if event.properties.final:
                utterance.final = True
                utterance.interrupted = utterance.interrupted or bool(
                    event.properties.is_interrupted
                )
        elif isinstance(event, ReplicaStoppedSpeaking):
            utterance.duration = event.properties.duration
            utterance.interrupted = utterance.interrupted or event.properties.interrupted
            utterance.ended_at = event.timestamp
            utterance.done = True
        return utterance
