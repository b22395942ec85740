"""Work the engine puts off until the uninterruptible greeting has been spoken.

Stored as data, not closures, so the queue can be inspected (the echo limits count what
waits in it) and is interpreted in one place (`ConversationEngine._run`).
"""

from __future__ import annotations

from dataclasses import dataclass

from openreplica.engine.turn_stats import TurnDecider
from openreplica.protocol import EchoProps

#: how a spoken user turn ended: (what decided it, seconds from speech end to commit)
TurnEnd = tuple[TurnDecider, float]


@dataclass(frozen=True, slots=True)
class BeginTurn:
    """A new user turn: `respond`'s text, or a committed spoken turn (`ended_by` says
    what ended it and how long it waited; `heard` is its `user_audio_analysis`)."""

    text: str
    ended_by: TurnEnd | None = None
    heard: str | None = None


@dataclass(frozen=True, slots=True)
class SpeakEcho:
    """An accepted echo; `chars` and `seconds` count against the echo limits."""

    props: EchoProps
    pcm: bytes
    chars: int
    seconds: float


@dataclass(frozen=True, slots=True)
class ContinueAfterTools:
    """Every tool result of this turn is in: the LLM goes on with the turn."""

    turn_idx: int


Deferred = BeginTurn | SpeakEcho | ContinueAfterTools
