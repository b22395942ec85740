"""How much one echo may ask the replica to speak (`SpeechLimits`, SPEC §2.6).

Text past `max_utterance_chars` for one utterance is refused (`invalid_properties`);
echoed audio may wait at most `max_echo_audio_ahead` seconds ahead of playout
(`audio_buffer_full`). What already counts: the utterance the echo continues, and the
echoes waiting for the greeting to end.
"""

from __future__ import annotations

from openreplica.engine.generation import Generation
from openreplica.engine.settings import SpeechLimits
from openreplica.protocol import EchoProps, ErrorCode


def pcm_seconds(pcm: bytes, sample_rate: int) -> float:
    return len(pcm) / 2 / sample_rate


def echo_refusal(
    props: EchoProps,
    pcm: bytes,
    *,
    continued: Generation | None,
    waiting: tuple[int, float],
    limits: SpeechLimits,
    output_sample_rate: int,
) -> tuple[ErrorCode, str] | None:
    """Why this echo is refused, or None. `waiting` is (characters, seconds) of the
    echoes waiting for the greeting."""
    waiting_chars, waiting_seconds = waiting
    if props.modality == "text":
        chars = len(props.text or "")
        before = waiting_chars + (len(continued.text) if continued else 0)
        if before + chars <= limits.max_utterance_chars:
            return None
        already = f" and this utterance already has {before}" if before else ""
        return (
            ErrorCode.INVALID_PROPERTIES,
            f"`properties.text` is {chars} characters{already}; one replica utterance "
            f"may speak at most {limits.max_utterance_chars} characters",
        )
    seconds = pcm_seconds(pcm, props.sample_rate)
    queued = continued.spoken.queued_samples if continued else 0
    ahead = waiting_seconds + queued / output_sample_rate
    if ahead + seconds <= limits.max_echo_audio_ahead:
        return None
    return (
        ErrorCode.AUDIO_BUFFER_FULL,
        f"this chunk holds {seconds:.2f} s of audio and {ahead:.2f} s already wait to "
        f"be played; at most {limits.max_echo_audio_ahead:g} s of echoed audio may wait "
        "ahead of playout: send audio no faster than real time",
    )
