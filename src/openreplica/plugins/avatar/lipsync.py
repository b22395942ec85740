"""From the audio being played to the mouth's shape.

With visemes (TTS phoneme timing, see `plugins.visemes`) a `VisemeSmoother` blends the
shapes of the audio frames just sent; without them the level of the audio is used:

The caller measures each 20 ms playout frame with `mouth_open_from_pcm` and passes the
level through a `MouthSmoother` before rendering the video frame shown with it. Energy
is a crude but honest proxy for jaw opening, and it costs microseconds.

Silence is exactly 0.0 at both stages, so when playout stops (end of speech or an
interrupt) the lips close on the very next frame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from openreplica.plugins.visemes import OPENNESS, VISEMES, Viseme

__all__ = [
    "MouthSmoother",
    "VisemeSmoother",
    "mouth_open_from_pcm",
    "openness",
    "rest_weights",
    "viseme_weights",
]

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


class VisemeSmoother:
    """Per-stream blend of the visemes sent since the previous video frame.

    Input: the viseme of each audio frame sent since the last video frame. Output:
    weights over `VISEMES` (summing to 1), eased toward the new mix with a time
    constant of about 35 ms so shapes flow into each other, except that closures (m/b/p,
    f/v) land at once (a lip press that arrives late reads as wrong) and silence (or only
    `rest`) snaps to rest: nothing moves after the audio stops.
    """

    def __init__(self, frame_s: float = 0.04, tau_s: float = 0.035) -> None:
        self._k = 1.0 - math.exp(-frame_s / tau_s)
        self.weights = rest_weights()

    def update(self, sent: Sequence[Viseme]) -> NDArray[np.float64]:
        if all(v == "rest" for v in sent):  # silence, a pause, or an interrupt
            self.weights = rest_weights()
            return self.weights
        target = np.zeros(len(VISEMES))
        for v in sent:
            target[_INDEX[v]] += 1.0
        target /= target.sum()
        closing = target[_INDEX["mbp"]] + target[_INDEX["fv"]] >= 0.5
        k = 1.0 if closing else self._k
        self.weights = self.weights + (target - self.weights) * k
        return self.weights

    def reset(self) -> None:
        self.weights = rest_weights()


def rest_weights() -> NDArray[np.float64]:
    w = np.zeros(len(VISEMES))
    w[_INDEX["rest"]] = 1.0
    return w


def viseme_weights(viseme: Viseme) -> NDArray[np.float64]:
    """All weight on one viseme."""
    w = np.zeros(len(VISEMES))
    w[_INDEX[viseme]] = 1.0
    return w


def openness(weights: NDArray[np.float64]) -> float:
    """How far the jaw opens for a viseme mix (for faces that only open and close)."""
    return float(np.dot(weights, _OPEN))


_INDEX = {v: i for i, v in enumerate(VISEMES)}
_OPEN = np.array([OPENNESS[v] for v in VISEMES])
