"""The engine's vocabulary: typed inputs it is fed and effects it returns.

Generation ids (`gen`) are the engine's own small integers; the runtime passes them back
with every model output so the engine can drop a cancelled generation's late tokens and
audio by id. PCM is opaque `bytes` here (16-bit little-endian mono); the engine counts
samples but never touches the signal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from openreplica.protocol import AnyInteraction, ErrorCode, Event


def resampled_length(samples: int, from_rate: int, to_rate: int) -> int:
    """How many samples `samples` at `from_rate` make at `to_rate`. The engine counts
    speech by this and the runtime's playout delivers exactly this many, so that an
    utterance ends when its last sample has been played."""
    return samples if from_rate == to_rate else round(samples * to_rate / from_rate)


# ------------------------------------------------------------------------------ inputs


@dataclass(frozen=True, slots=True)
class InteractionReceived:
    interaction: AnyInteraction


@dataclass(frozen=True, slots=True)
class UserSpeechStarted:
    """VAD: the user started speaking at `media_time` (seconds of user audio).

    `detected_after` is how long after the onset the detector confirmed it; it counts
    toward the speech needed to interrupt the replica.
    """

    media_time: float
    detected_after: float = 0.0


@dataclass(frozen=True, slots=True)
class UserSpeechPausing:
    """VAD: the first silent frame after speech. The end is not confirmed yet (a dip in
    the speech may follow); a reply may be prepared on the words heard so far."""


@dataclass(frozen=True, slots=True)
class UserSpeechResumed:
    """VAD: the speech went on after `UserSpeechPausing`, without ending."""


@dataclass(frozen=True, slots=True)
class UserSpeechEnded:
    """VAD: the user's speech ended at `media_time` (the last speech sample)."""

    media_time: float
    detected_after: float = 0.0


@dataclass(frozen=True, slots=True)
class SpeechMeasurement:
    """How one segment of the user's speech sounded (runtime/speech_measure.py)."""

    seconds: float
    loudness_dbfs: float
    #: median fundamental frequency of the voiced frames; None when nothing was voiced
    pitch_hz: float | None = None


@dataclass(frozen=True, slots=True)
class UserSpeechMeasured:
    """The voice path measured a speech segment; it comes before that segment's final
    transcript and goes, summed over the turn, into `user_audio_analysis`."""

    measurement: SpeechMeasurement


@dataclass(frozen=True, slots=True)
class UserTranscript:
    """ASR output for the user's current speech. A final one closes one VAD segment."""

    text: str
    final: bool


@dataclass(frozen=True, slots=True)
class TurnScored:
    """The end-of-turn model scored the pause after the speech that ended at
    `speech_end` (the `UserSpeechEnded.media_time` it follows): the probability that the
    user's turn is complete, or None when the model could not score it (the fixed
    silence then decides)."""

    speech_end: float
    probability: float | None


@dataclass(frozen=True, slots=True)
class LLMToken:
    gen: int
    text: str


@dataclass(frozen=True, slots=True)
class LLMToolCall:
    gen: int
    tool_call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class LLMFinished:
    gen: int


@dataclass(frozen=True, slots=True)
class LLMFailed:
    gen: int
    message: str


@dataclass(frozen=True, slots=True)
class SpeechAudio:
    """Synthesised audio for one segment of a generation (TTS output)."""

    gen: int
    segment: int
    pcm: bytes
    sample_rate: int


@dataclass(frozen=True, slots=True)
class SpeechSegmentDone:
    gen: int
    segment: int


@dataclass(frozen=True, slots=True)
class SpeechFailed:
    gen: int
    segment: int
    message: str


@dataclass(frozen=True, slots=True)
class AudioPlayed:
    """The playout sent `samples` (at the output rate) of this generation's segment."""

    gen: int
    segment: int
    samples: int


@dataclass(frozen=True, slots=True)
class PlayoutDrained:
    """Everything queued for this generation has been played."""

    gen: int


@dataclass(frozen=True, slots=True)
class VisualContextUpdated:
    """Perception: what the camera shows now, in a sentence ("" = nothing known). It goes
    on the next user `conversation.utterance` (`visual_context`) and into the LLM context
    with the user's words."""

    text: str


@dataclass(frozen=True, slots=True)
class PerceptionToolCallDetected:
    """Perception decided a perception tool applies: emitted as
    `conversation.perception_tool_call` with the current `turn_idx` and a fresh
    `inference_id`. Vision: `arguments` is an object and `frames` holds base64 JPEGs;
    audio: `arguments` is a JSON string and there are no frames."""

    modality: Literal["vision", "audio"]
    name: str
    arguments: dict[str, Any] | str
    frames: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PerceptionAnalysisReady:
    """The end-of-call analysis: emitted once as `conversation.perception_analysis`
    (later ones are dropped). The runtime feeds it just before shutting down."""

    text: str


#: what the runtime's model workers and playout report about one generation (`gen`)
ModelOutput = (
    LLMToken
    | LLMToolCall
    | LLMFinished
    | LLMFailed
    | SpeechAudio
    | SpeechSegmentDone
    | SpeechFailed
    | AudioPlayed
    | PlayoutDrained
)

EngineInput = (
    InteractionReceived
    | UserSpeechStarted
    | UserSpeechPausing
    | UserSpeechResumed
    | UserSpeechEnded
    | UserSpeechMeasured
    | UserTranscript
    | TurnScored
    | ModelOutput
    | VisualContextUpdated
    | PerceptionToolCallDetected
    | PerceptionAnalysisReady
)

# ----------------------------------------------------------------------------- effects


@dataclass(frozen=True, slots=True)
class Emit:
    """Broadcast this event (unsequenced: the runtime's sequencer stamps it)."""

    event: Event


@dataclass(frozen=True, slots=True)
class SendError:
    """A `system.error`. `to_sender` answers the interaction just handled; otherwise it
    goes to every connection (plugin failures have no sender)."""

    code: ErrorCode
    message: str
    event_type: str | None = None
    to_sender: bool = True


#: who says a message of the LLM context (the OpenAI chat roles)
ChatRole = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, slots=True)
class ContextMessage:
    """One message of the LLM context, in the OpenAI chat shape."""

    role: ChatRole
    content: str
    tool_call_id: str | None = None
    name: str | None = None
    tool_calls: tuple[tuple[str, str, str], ...] = ()  # (id, name, arguments)


@dataclass(frozen=True, slots=True)
class StartGeneration:
    gen: int
    messages: tuple[ContextMessage, ...]
    tools: tuple[dict[str, object], ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class CancelGeneration:
    """Stop the LLM call and any synthesis of this generation."""

    gen: int


@dataclass(frozen=True, slots=True)
class Synthesize:
    gen: int
    segment: int
    text: str


@dataclass(frozen=True, slots=True)
class Play:
    """Queue this audio for playout (the runtime resamples it to the output rate)."""

    gen: int
    segment: int
    pcm: bytes
    sample_rate: int


@dataclass(frozen=True, slots=True)
class StopPlayout:
    """Drop everything queued for this generation, now (within one frame)."""

    gen: int


Effect = Emit | SendError | StartGeneration | CancelGeneration | Synthesize | Play | StopPlayout
