"""From the audio being played to how open the mouth is.

The caller measures each 20 ms playout frame with `mouth_open_from_pcm` and passes the
level through a `MouthSmoother` before rendering the video frame shown with it. Energy
is a crude but honest proxy for jaw opening, and it costs microseconds.

Silence is exactly 0.0 at both stages, so when playout stops (end of speech or an
interrupt) the lips close on the very next frame.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["MouthSmoother", "mouth_open_from_pcm"]

#: below this level (dBFS RMS) the frame counts as silence: breath, dither, room tone
FLOOR_DBFS = -45.0
#: at or above this level the mouth is fully open; TTS vowels sit around -20..-12 dBFS
FULL_DBFS = -12.0


def mouth_open_from_pcm(
    pcm: bytes, floor_dbfs: float = FLOOR_DBFS, full_dbfs: float = FULL_DBFS
) -> float:
    """Mouth opening 0..1 from one frame of 16-bit little-endian mono PCM.

    RMS level in dBFS, mapped linearly from `floor_dbfs` (0) to `full_dbfs` (1), then
    eased so quiet consonants still move the lips. Anything under the floor is 0.0.
    """
    n = len(pcm) // 2
    if n == 0:
        return 0.0
    samples = np.frombuffer(pcm, dtype="<i2", count=n).astype(np.float32)
    mean_square = float(np.dot(samples, samples)) / n
    if mean_square <= 0.0:
        return 0.0
    dbfs = 10.0 * math.log10(mean_square / (32768.0 * 32768.0))
    if dbfs <= floor_dbfs:
        return 0.0
    x = min(1.0, (dbfs - floor_dbfs) / (full_dbfs - floor_dbfs))
    return float(1.0 - (1.0 - x) ** 1.6)  # ease-out: opens readily, saturates gently


class MouthSmoother:
    """Per-stream smoothing of the mouth level: fast attack, quick release, hard zero.

    Raw frame levels flicker; a one-pole filter that opens fast and closes a bit slower
    reads as speech. A zero input (silence, or playout stopped) returns 0.0 at once:
    lips must never keep moving after the audio has stopped.
    """

    def __init__(self, attack: float = 0.75, release: float = 0.5, snap: float = 0.03) -> None:
        if not (0.0 < attack <= 1.0 and 0.0 < release <= 1.0):
            raise ValueError("attack and release must be in (0, 1]")
        self._attack = attack
        self._release = release
        self._snap = snap
        self.value = 0.0

    def update(self, level: float) -> float:
        """Feed the level of the frame about to be shown; returns the smoothed opening."""
        target = min(1.0, max(0.0, level))
        if target == 0.0:
            self.value = 0.0
            return 0.0
        k = self._attack if target > self.value else self._release
        self.value += (target - self.value) * k
        if self.value < self._snap:
            self.value = 0.0
        return self.value

    def reset(self) -> None:
        self.value = 0.0
