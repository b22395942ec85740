"""Every phase the engine keeps and every transition between them, in one table.

Rules of this file (h11's `_state.py` is the model):

- Each thing in the engine with a lifecycle has one enum here, and its phase is stored
  once, as that enum (no boolean elsewhere says the same thing again):
  a generation's `Words` (where its text and audio come from), its `Voice` (what clients
  were told of its speech), its `Queue` (its audio in the runtime's playout); the user's
  `Listening` (speech, pause, end of turn); a client tool call's `CallPhase`.
- Phases change only through `TABLE.fire(phase, event)`, which looks the pair up in
  the tables at the end of this file. A pair that is not in a table is a bug in the
  engine and raises `BadTransition`, naming the phase and the event: nothing is
  ignored silently.
- Inputs that may legitimately come at any time (a late token of a cancelled
  generation, a repeated VAD edge) are filtered by the engine *before* they get here.
- Phases carry no data. Data that belongs to a phase (when playout drained, the pause's
  deadline) lives on the object beside its phase and is read only in that phase.
- Self-loops are listed where an event may repeat in a phase (more LLM tokens while it
  streams); where there is no entry, the event is not allowed in that phase.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Generic, TypeVar


class _IdentityEnum(Enum):
    # Members are singletons compared by identity, so hash them by identity too: Enum's
    # own __hash__ is a Python function, and table lookups run on per-frame paths.
    __hash__ = object.__hash__


class Words(_IdentityEnum):
    """Where a generation's text and audio come from."""

    LLM = "llm"  # a reply: the LLM is streaming it
    OPEN = "open"  # an echo or the greeting: more may be added
    COMPLETE = "complete"  # nothing more will be added


class WordsEvent(_IdentityEnum):
    MORE = "more"  # text or audio added (an LLM token or tool call, an echo chunk)
    DONE = "done"  # the LLM finished or failed, the echo said done (or went quiet)


class Voice(_IdentityEnum):
    """What clients were told of a generation's speech."""

    QUIET = "quiet"  # nothing played yet: clients know nothing of it
    SPEAKING = "speaking"  # replica.started_speaking sent
    TOLD = "told"  # ... and its conversation.utterance (the whole text) too
    ENDED = "ended"  # finished or cut: stopped_speaking sent if it had started


class VoiceEvent(_IdentityEnum):
    PLAYED = "played"  # its first audio was played
    UTTERED = "uttered"  # its conversation.utterance went out
    END = "end"  # it finished playing, or was cut


class Queue(_IdentityEnum):
    """A generation's audio in the runtime's playout."""

    EMPTY = "empty"  # nothing handed to playout yet
    PLAYING = "playing"  # audio handed over and not all played
    DRAINED = "drained"  # everything handed over has been played


class QueueEvent(_IdentityEnum):
    PLAY = "play"  # audio handed to playout
    DRAINED = "drained"  # the runtime reports its queue empty


class Listening(_IdentityEnum):
    """The user's side of the current turn."""

    IDLE = "idle"  # no speech in this turn yet
    SPEAKING = "speaking"  # the VAD says the user speaks
    PAUSED = "paused"  # silent after speech, waiting for the pause to run out
    ELAPSED = "elapsed"  # the pause ran out: committing once every final is in


class ListeningEvent(_IdentityEnum):
    START = "start"  # VAD speech start
    END = "end"  # VAD speech end
    ELAPSE = "elapse"  # the pause's deadline passed (timer or the end-of-turn model)
    WAIT = "wait"  # the words say the turn is not over: wait again
    COMMIT = "commit"  # the turn was committed (or was only noise)


class CallPhase(_IdentityEnum):
    """One tool call the client runs."""

    ASKED = "asked"  # the LLM asked; its generation is still speaking
    ANSWERED = "answered"  # the result came while the generation still speaks
    SPOKEN = "spoken"  # the generation finished: the call is in the LLM context
    READY = "ready"  # both: the result can go to the LLM


class CallEvent(_IdentityEnum):
    RESULT = "result"  # conversation.tool_result arrived
    ASKER_DONE = "asker_done"  # the generation that asked finished (not cut)


class BadTransition(RuntimeError):
    """An event came in a phase that has no transition for it: a bug in the engine."""


P = TypeVar("P", bound=Enum)
E = TypeVar("E", bound=Enum)


class Table(Generic[P, E]):
    """One machine's transitions: phase -> {event: new phase}."""

    __slots__ = ("_moves",)

    def __init__(self, moves: Mapping[P, Mapping[E, P]]) -> None:
        self._moves = moves

    def fire(self, phase: P, event: E) -> P:
        """The phase `event` leads to from `phase`; raises `BadTransition` if none."""
        moves = self._moves[phase]
        new = moves.get(event)
        if new is None:
            allowed = ", ".join(e.name for e in moves) or "none, it is final"
            raise BadTransition(
                f"{type(phase).__name__}.{phase.name} has no transition on "
                f"{type(event).__name__}.{event.name} (allowed: {allowed})"
            )
        return new


# ------------------------------------------------------------------------ the tables

GENERATION_WORDS: Table[Words, WordsEvent] = Table(
    {
        Words.LLM: {WordsEvent.MORE: Words.LLM, WordsEvent.DONE: Words.COMPLETE},
        Words.OPEN: {WordsEvent.MORE: Words.OPEN, WordsEvent.DONE: Words.COMPLETE},
        Words.COMPLETE: {},
    }
)

GENERATION_VOICE: Table[Voice, VoiceEvent] = Table(
    {
        Voice.QUIET: {VoiceEvent.PLAYED: Voice.SPEAKING, VoiceEvent.END: Voice.ENDED},
        Voice.SPEAKING: {VoiceEvent.UTTERED: Voice.TOLD, VoiceEvent.END: Voice.ENDED},
        Voice.TOLD: {VoiceEvent.END: Voice.ENDED},
        Voice.ENDED: {},
    }
)

GENERATION_QUEUE: Table[Queue, QueueEvent] = Table(
    {
        Queue.EMPTY: {QueueEvent.PLAY: Queue.PLAYING},
        Queue.PLAYING: {QueueEvent.PLAY: Queue.PLAYING, QueueEvent.DRAINED: Queue.DRAINED},
        Queue.DRAINED: {QueueEvent.PLAY: Queue.PLAYING},
    }
)

USER_TURN: Table[Listening, ListeningEvent] = Table(
    {
        Listening.IDLE: {ListeningEvent.START: Listening.SPEAKING},
        Listening.SPEAKING: {ListeningEvent.END: Listening.PAUSED},
        Listening.PAUSED: {
            ListeningEvent.START: Listening.SPEAKING,
            ListeningEvent.ELAPSE: Listening.ELAPSED,
        },
        Listening.ELAPSED: {
            ListeningEvent.START: Listening.SPEAKING,
            ListeningEvent.WAIT: Listening.PAUSED,
            ListeningEvent.COMMIT: Listening.IDLE,
        },
    }
)

TOOL_CALL: Table[CallPhase, CallEvent] = Table(
    {
        CallPhase.ASKED: {
            CallEvent.RESULT: CallPhase.ANSWERED,
            CallEvent.ASKER_DONE: CallPhase.SPOKEN,
        },
        CallPhase.ANSWERED: {CallEvent.ASKER_DONE: CallPhase.READY},
        CallPhase.SPOKEN: {CallEvent.RESULT: CallPhase.READY},
        CallPhase.READY: {},
    }
)
