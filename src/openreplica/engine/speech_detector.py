"""VAD frame probabilities -> the user's speech edges, with hysteresis. Pure and clock-free.

The detector sees one probability per VAD frame (all frames the same length) with the
frame's media time (seconds of user audio), and turns them into `UserSpeechStarted` /
`UserSpeechEnded` for the engine.

Rules:
- Two thresholds. Silent, a frame counts as speech at `on_threshold` or above; speaking,
  it keeps counting as speech down to `off_threshold`. A probability wandering between
  the two changes nothing.
- A start needs `min_speech` seconds of consecutive speech frames (a click or a short
  blip never becomes speech); its `media_time` is the start of the first of them.
- An end needs `min_silence` seconds of consecutive non-speech frames (a stop consonant
  does not split a word); its `media_time` is the end of the last speech frame.
- `detected_after` is how far past that onset or offset the detector had to read before
  it was sure: the end of the confirming frame minus the edge's media time. The engine
  counts it toward the barge-in speech and the turn-ending pause.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from openreplica.engine.io import UserSpeechEnded, UserSpeechStarted

__all__ = ["DetectorSettings", "SpeechDetector", "SpeechEdge"]

SpeechEdge = UserSpeechStarted | UserSpeechEnded


@dataclass(frozen=True, slots=True)
class DetectorSettings:
    #: silent -> a frame at or above this probability is speech
    on_threshold: float = 0.5
    #: speaking -> a frame below this probability is silence
    off_threshold: float = 0.35
    #: seconds of speech frames in a row before a start is confirmed
    min_speech: float = 0.06
    #: seconds of silent frames in a row before an end is confirmed; keep it below the
    #: shortest turn-ending pause (`PAUSE_SILENCE["high"]`)
    min_silence: float = 0.1

    def __post_init__(self) -> None:
        if not 0.0 <= self.off_threshold <= self.on_threshold <= 1.0:
            raise ValueError(
                "thresholds must satisfy 0 <= off_threshold <= on_threshold <= 1, got "
                f"on={self.on_threshold} off={self.off_threshold}"
            )
        if self.min_speech < 0 or self.min_silence < 0:
            raise ValueError("min_speech and min_silence must not be negative")


def _frames_for(seconds: float, frame_duration: float) -> int:
    # 1e-9 absorbs float noise: 0.06 s of 20 ms frames is 3 frames, not 4.
    return max(1, math.ceil(seconds / frame_duration - 1e-9))


class SpeechDetector:
    """One conversation's detector over frames of `frame_duration` seconds."""

    def __init__(self, frame_duration: float, settings: DetectorSettings | None = None) -> None:
        if frame_duration <= 0:
            raise ValueError(f"frame_duration must be positive, got {frame_duration}")
        self.settings = settings or DetectorSettings()
        self.frame_duration = frame_duration
        self.min_speech_frames = _frames_for(self.settings.min_speech, frame_duration)
        self.min_silence_frames = _frames_for(self.settings.min_silence, frame_duration)
        self.speaking = False
        # silent: the run of speech frames so far and where it began;
        # speaking: the run of silent frames so far and where it began (= speech end)
        self._run = 0
        self._run_start = 0.0

    @property
    def pending(self) -> bool:
        """Frames are being counted toward an edge that is not confirmed yet."""
        return self._run > 0

    def push(self, probability: float, media_time: float) -> SpeechEdge | None:
        """One frame starting at `media_time`; returns an edge when one is confirmed."""
        frame_end = media_time + self.frame_duration
        if not self.speaking:
            if probability < self.settings.on_threshold:
                self._run = 0
                return None
            if self._run == 0:
                self._run_start = media_time
            self._run += 1
            if self._run < self.min_speech_frames:
                return None
            self.speaking, self._run = True, 0
            return UserSpeechStarted(self._run_start, frame_end - self._run_start)
        if probability >= self.settings.off_threshold:
            self._run = 0
            return None
        if self._run == 0:
            self._run_start = media_time
        self._run += 1
        if self._run < self.min_silence_frames:
            return None
        self.speaking, self._run = False, 0
        return UserSpeechEnded(self._run_start, frame_end - self._run_start)

    def close(self, media_time: float) -> UserSpeechEnded | None:
        """The audio stopped at `media_time` (mute, hang-up): end speech that is going."""
        edge = None
        if self.speaking:
            end = self._run_start if self._run else media_time
            edge = UserSpeechEnded(end, max(0.0, media_time - end))
        self.reset()
        return edge

    def reset(self) -> None:
        self.speaking = False
        self._run = 0
        self._run_start = 0.0
