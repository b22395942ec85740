"""Engine settings, and the turn-taking sensitivity mapping (SPEC §4.2).

The mapping is the single source of truth: the README table is generated from it and
the persona settings (`turn_taking_patience`, `replica_interruptibility`) and the legacy
`participant_*_sensitivity` names all map onto these levels.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from openreplica.engine.sentences import DEFAULT_MAX_SEGMENT_CHARS
from openreplica.protocol import SensitivityLevel

#: silence after the user's last speech sample that ends their turn (seconds);
#: higher sensitivity = shorter wait
PAUSE_SILENCE: dict[SensitivityLevel, float] = {
    "superlow": 1.6,
    "verylow": 1.1,
    "low": 0.7,
    "medium": 0.35,
    "high": 0.2,
}

#: how long the user must keep speaking over the replica before it stops (seconds);
#: higher sensitivity = easier to interrupt. A cough or a short "mm-hmm" is ~150-300 ms.
INTERRUPT_MIN_SPEECH: dict[SensitivityLevel, float] = {
    "superlow": 2.0,
    "verylow": 1.2,
    "low": 0.6,
    "medium": 0.35,
    "high": 0.12,
}

#: which decides when a pause ends the user's turn: the end-of-turn model (Smart Turn v3,
#: scored by the runtime at each pause and fed in as `TurnScored`) or a fixed silence
TurnDetector = Literal["smart_turn", "silence"]


@dataclass(frozen=True, slots=True)
class TurnWait:
    """With the end-of-turn model: the silence after the user's last speech sample before
    a turn the model calls complete is committed (`floor`), and the longest wait when it
    calls it incomplete (`cap`): a pause mid-sentence may last that long."""

    floor: float
    cap: float


TURN_WAIT: dict[SensitivityLevel, TurnWait] = {
    "superlow": TurnWait(floor=0.8, cap=3.0),
    "verylow": TurnWait(floor=0.5, cap=2.4),
    "low": TurnWait(floor=0.35, cap=1.8),
    "medium": TurnWait(floor=0.2, cap=1.4),
    "high": TurnWait(floor=0.1, cap=0.8),
}

#: the model's probability at or above which a turn counts as complete
COMPLETE_PROBABILITY = 0.5

PipelineMode = Literal["full", "echo"]


@dataclass(frozen=True, slots=True)
class TurnTaking:
    pause_sensitivity: SensitivityLevel = "medium"
    interrupt_sensitivity: SensitivityLevel = "medium"
    #: "silence" unless the runtime has the end-of-turn model (it then feeds `TurnScored`)
    detector: TurnDetector = "silence"

    @property
    def pause_silence(self) -> float:
        return PAUSE_SILENCE[self.pause_sensitivity]

    @property
    def turn_wait(self) -> TurnWait:
        return TURN_WAIT[self.pause_sensitivity]

    @property
    def interrupt_min_speech(self) -> float:
        return INTERRUPT_MIN_SPEECH[self.interrupt_sensitivity]

    def updated(
        self,
        pause: SensitivityLevel | None = None,
        interrupt: SensitivityLevel | None = None,
    ) -> TurnTaking:
        return replace(
            self,
            pause_sensitivity=pause or self.pause_sensitivity,
            interrupt_sensitivity=interrupt or self.interrupt_sensitivity,
        )


@dataclass(frozen=True, slots=True)
class SpeechLimits:
    """What one conversation may be asked to speak, and how far speech may run ahead of
    playout (SPEC §2.6). The server fills these from its settings."""

    #: characters one replica utterance may speak: echo text that would take an utterance
    #: past it is refused with `invalid_properties` (streaming captions repeat the text
    #: heard so far, so their cost grows with the square of an utterance's length)
    max_utterance_chars: int = 10_000
    #: seconds of echoed audio that may wait ahead of playout; a chunk past it is refused
    #: with `audio_buffer_full`
    max_echo_audio_ahead: float = 30.0
    #: seconds of synthesised speech the TTS may run ahead of playout (backpressure)
    tts_ahead: float = 10.0
    #: the longest text handed to the TTS at once (cut at a word boundary)
    max_segment_chars: int = DEFAULT_MAX_SEGMENT_CHARS


@dataclass(frozen=True, slots=True)
class EngineSettings:
    replica_id: str = "r-aria"
    pipeline_mode: PipelineMode = "full"
    system_prompt: str = "You are a friendly, concise conversational assistant."
    #: persona `context` plus the conversation's `conversational_context`
    context: str = ""
    custom_greeting: str | None = None
    tools: tuple[dict[str, object], ...] = ()
    turn_taking: TurnTaking = field(default_factory=TurnTaking)
    #: playout sample rate; audio of any rate is resampled to it by the runtime
    output_sample_rate: int = 24000
    #: emit `conversation.replica_interrupted` beside every interrupted utterance
    emit_replica_interrupted: bool = True
    #: seconds between `system.replica_present` heartbeats while in the call; 0 = none
    presence_interval: float = 5.0
    #: an audio echo without `done: true` ends when playout drained this long ago
    echo_audio_grace: float = 1.0
    #: messages of conversation history kept for the LLM (oldest turns dropped first)
    max_llm_history: int = 200
    limits: SpeechLimits = field(default_factory=SpeechLimits)
    #: start the reply (LLM and first TTS segment) on the final transcript at the first
    #: pause, before the turn is committed; used if the turn commits with the same text
    preemptive_replies: bool = True
    #: an LLM reply's first TTS segment is only its first this-many words (or its first
    #: clause, if shorter), so its first audio comes sooner: the TTS's time grows with the
    #: text (Piper: 140 ms of CPU for a five-word sentence, 70 for two words). 0: whole
    #: sentences. The cost: a short pause in the voice after those words.
    first_segment_words: int = 2
