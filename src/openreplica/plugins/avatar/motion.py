"""Idle life for a face: head sway, blinks and glances, as pure functions of (seed, t).

Nothing here reads a clock: the caller passes media time `t` in seconds. Random events
(blinks, glances) come from a seeded generator whose event list is extended lazily and
in order, so `f(t)` depends only on the seed and `t`, never on which times were asked
for before — two streams with the same seed render identical frames.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass

__all__ = ["BlinkSchedule", "GazeSchedule", "HeadMotion", "HeadPose"]

_TAU = 2.0 * math.pi


@dataclass(frozen=True, slots=True)
class HeadPose:
    """Offset of the head from rest: translation in pixels and roll in degrees."""

    dx: float
    dy: float
    roll_deg: float


class HeadMotion:
    """Slow sway, bob and tilt made of a few incommensurate sines.

    Sums of sines with unrelated periods never visibly repeat, which reads as "alive"
    rather than "metronome". Amplitudes are fractions of the face scale so motion looks
    the same at every resolution.
    """

    # (amplitude as a fraction of scale or degrees, frequency Hz) per component
    _SWAY = ((0.012, 0.11), (0.005, 0.29))
    _BOB = ((0.006, 0.19), (0.003, 0.43))
    _ROLL = ((1.8, 0.083), (0.7, 0.21))

    def __init__(self, seed: int, scale: float, amount: float = 1.0) -> None:
        rng = random.Random(f"motion:{seed}")
        self._phases = [rng.uniform(0.0, _TAU) for _ in range(6)]
        self._scale = scale
        self._amount = amount

    def pose(self, t: float) -> HeadPose:
        p = self._phases
        s = self._scale * self._amount
        dx = s * sum(a * math.sin(_TAU * f * t + p[i]) for i, (a, f) in enumerate(self._SWAY))
        dy = s * sum(a * math.sin(_TAU * f * t + p[2 + i]) for i, (a, f) in enumerate(self._BOB))
        roll = self._amount * sum(
            a * math.sin(_TAU * f * t + p[4 + i]) for i, (a, f) in enumerate(self._ROLL)
        )
        return HeadPose(dx, dy, roll)

    def max_offset(self) -> float:
        """Upper bound of |dx| and |dy| in pixels (for sizing margins and boxes)."""
        s = self._scale * self._amount
        return s * max(sum(a for a, _ in self._SWAY), sum(a for a, _ in self._BOB))


class _EventTimes:
    """Seeded, lazily extended, sorted start times of random events."""

    def __init__(self, rng: random.Random, first: float, gap: tuple[float, float]) -> None:
        self._rng = rng
        self._gap = gap
        self.times: list[float] = [first]

    def ensure(self, t: float) -> None:
        while self.times[-1] <= t:
            self.times.append(self.times[-1] + self._next_gap())

    def _next_gap(self) -> float:
        lo, hi = self._gap
        # Triangular with the mode near the low end: mostly short-ish waits, some long.
        return self._rng.triangular(lo, hi, lo + (hi - lo) * 0.3)

    def last_before(self, t: float) -> int:
        """Index of the latest event starting at or before `t` (-1 if none)."""
        self.ensure(t)
        return bisect.bisect_right(self.times, t) - 1


class BlinkSchedule:
    """Eyelid closure 0 (open) .. 1 (shut) at time `t`.

    People blink every 2-8 s, a blink takes ~150 ms (fast close, slower open), and about
    one blink in seven is a double blink.
    """

    CLOSE_S = 0.06
    HOLD_S = 0.03
    OPEN_S = 0.10
    DURATION_S = CLOSE_S + HOLD_S + OPEN_S

    def __init__(self, seed: int) -> None:
        rng = random.Random(f"blink:{seed}")
        self._events = _EventTimes(rng, first=rng.uniform(0.8, 3.0), gap=(1.8, 7.5))
        self._double = random.Random(f"double:{seed}")
        self._doubles: list[bool] = []

    def _is_double(self, index: int) -> bool:
        while len(self._doubles) <= index:
            self._doubles.append(self._double.random() < 0.15)
        return self._doubles[index]

    def closure(self, t: float) -> float:
        i = self._events.last_before(t)
        if i < 0:
            return 0.0
        dt = t - self._events.times[i]
        c = self._shape(dt)
        if c == 0.0 and self._is_double(i):
            c = self._shape(dt - self.DURATION_S - 0.05)
        return c

    def _shape(self, dt: float) -> float:
        if dt < 0.0 or dt >= self.DURATION_S:
            return 0.0
        if dt < self.CLOSE_S:
            return dt / self.CLOSE_S
        if dt < self.CLOSE_S + self.HOLD_S:
            return 1.0
        x = (dt - self.CLOSE_S - self.HOLD_S) / self.OPEN_S
        return 1.0 - x * x * (3.0 - 2.0 * x)  # smoothstep: the lid eases open


class GazeSchedule:
    """Where the eyes look, as (x, y) in -1..1, with quick saccades between fixations.

    Fixations last 0.8-4 s and mostly stay near the viewer (the camera), so the replica
    seems attentive but not staring.
    """

    SACCADE_S = 0.07

    def __init__(self, seed: int) -> None:
        rng = random.Random(f"gaze:{seed}")
        self._events = _EventTimes(rng, first=rng.uniform(0.5, 2.0), gap=(0.8, 4.0))
        self._rng_target = random.Random(f"gaze-target:{seed}")
        self._targets: list[tuple[float, float]] = []

    def _target(self, index: int) -> tuple[float, float]:
        while len(self._targets) <= index:
            r = self._rng_target
            if r.random() < 0.5:
                self._targets.append((0.0, 0.0))  # back to the viewer
            else:
                self._targets.append((r.uniform(-1.0, 1.0), r.uniform(-0.6, 0.4)))
        return self._targets[index]

    def gaze(self, t: float) -> tuple[float, float]:
        i = self._events.last_before(t)
        if i < 0:
            return (0.0, 0.0)
        to = self._target(i)
        frm = self._target(i - 1) if i > 0 else (0.0, 0.0)
        x = min(1.0, (t - self._events.times[i]) / self.SACCADE_S)
        return (frm[0] + (to[0] - frm[0]) * x, frm[1] + (to[1] - frm[1]) * x)
