"""`user_audio_analysis` (SPEC §1.2 [added]): the pace, loudness and pitch of a spoken
user turn, in one sentence.

The voice path measures each speech segment (`SpeechMeasurement`); a turn may span
several segments, so `TurnAudio` adds them up until the turn is committed. Pure.
"""

from __future__ import annotations

import math

from openreplica.engine.io import SpeechMeasurement

__all__ = ["TurnAudio", "describe_turn_audio"]

#: words per minute below which speech is slow, and above which it is fast
SLOW_WPM, FAST_WPM = 110.0, 170.0
#: dBFS of the whole turn below which it is quiet, and above which it is loud
QUIET_DBFS, LOUD_DBFS = -35.0, -15.0
#: median pitch (Hz) below which a voice is low, and above which it is high
LOW_HZ, HIGH_HZ = 140.0, 220.0


def _band(value: float, low: float, high: float, words: tuple[str, str, str]) -> str:
    return words[0] if value < low else words[2] if value > high else words[1]


def describe_turn_audio(words: int, seconds: float, dbfs: float, pitch_hz: float | None) -> str:
    """One sentence, e.g. "Spoke at a moderate pace (about 140 words per minute), at a
    normal volume (-24 dBFS), in a medium-pitched voice (around 180 Hz)."."""
    wpm = words / seconds * 60.0 if seconds > 0 else 0.0
    pace = _band(wpm, SLOW_WPM, FAST_WPM, ("slow", "moderate", "fast"))
    volume = _band(dbfs, QUIET_DBFS, LOUD_DBFS, ("quiet", "normal", "loud"))
    sentence = (
        f"Spoke at a {pace} pace (about {round(wpm)} words per minute), "
        f"at a {volume} volume ({round(dbfs)} dBFS)"
    )
    if pitch_hz is None:
        return sentence + ", with no clear pitch."
    pitch = _band(pitch_hz, LOW_HZ, HIGH_HZ, ("low", "medium", "high"))
    return sentence + f", in a {pitch}-pitched voice (around {round(pitch_hz)} Hz)."


class TurnAudio:
    """The measurements of the current user turn's speech segments."""

    def __init__(self) -> None:
        self._segments: list[SpeechMeasurement] = []

    def add(self, measurement: SpeechMeasurement) -> None:
        if measurement.seconds > 0:
            self._segments.append(measurement)

    def take(self, transcript: str) -> str | None:
        """The sentence for a committed turn with this transcript (None when no audio was
        measured, e.g. a typed `respond`); the next turn starts from nothing."""
        segments, self._segments = self._segments, []
        seconds = sum(m.seconds for m in segments)
        if seconds <= 0:
            return None
        power = sum(10 ** (m.loudness_dbfs / 10) * m.seconds for m in segments) / seconds
        dbfs = 10 * math.log10(power) if power > 0 else -120.0
        voiced = [m for m in segments if m.pitch_hz is not None]
        voiced_seconds = sum(m.seconds for m in voiced)
        pitch = (
            sum((m.pitch_hz or 0.0) * m.seconds for m in voiced) / voiced_seconds
            if voiced_seconds > 0
            else None
        )
        return describe_turn_audio(len(transcript.split()), seconds, dbfs, pitch)
