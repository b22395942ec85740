"""Prosodic cues at a pause, on synthetic voiced speech with a known pitch contour and
known syllable lengths: a statement's fall and a long last syllable against a level pitch
and a short one."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest

from openreplica.plugins.turn_prosody import ProsodyFeatures, prosody_features

RATE = 16000


def voice(
    syllables: Sequence[tuple[float, float, float]],
    gap: float = 0.06,
    *,
    jitter: float = 0.0,
    fade: bool = False,
) -> bytes:
    """Syllables of a buzzy voice (harmonics of F0), each (seconds, F0 at start, F0 at
    end), separated by `gap` of silence, then 0.2 s of silence; low noise throughout.
    `jitter`: the pitch wanders at random by this many semitones (sd) every 10 ms, as a
    human or neural voice's does; `fade`: the last syllable dies away to -30 dB."""
    parts: list[npt.NDArray[np.float64]] = []
    wander = np.random.default_rng(2)
    for i, (seconds, f_start, f_end) in enumerate(syllables):
        n = round(seconds * RATE)
        f0 = np.geomspace(f_start, f_end, n)
        if jitter:
            steps = wander.normal(0.0, jitter, n // 160 + 1)
            f0 = f0 * np.repeat(2.0 ** (steps / 12.0), 160)[:n]
        phase = 2 * np.pi * np.cumsum(f0) / RATE
        wave = sum(np.sin(k * phase) / k for k in range(1, 12))
        envelope = np.sin(np.pi * np.arange(n) / n) ** 0.3
        if fade and i == len(syllables) - 1:
            envelope = envelope * np.linspace(1.0, 0.03, n)
        parts += [0.2 * wave * envelope, np.zeros(round(gap * RATE))]
    x = np.concatenate([*parts, np.zeros(round(0.2 * RATE))])
    x = x + np.random.default_rng(1).normal(0.0, 0.002, x.size)
    pcm: bytes = (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()
    return pcm


def features(pcm: bytes) -> ProsodyFeatures:
    f = prosody_features(pcm)
    assert f is not None
    return f


STATEMENT = [(0.15, 130, 135)] * 8 + [(0.35, 125, 95)]  # falls, and the last is long
MID_SENTENCE = [(0.15, 130, 135)] * 8 + [(0.15, 132, 134)]  # level, short


def test_a_falling_lengthened_ending_reads_as_final() -> None:
    end, mid = features(voice(STATEMENT)), features(voice(MID_SENTENCE))
    assert end.declination < -3.0 < mid.declination
    assert abs(mid.declination) < 1.0
    assert end.low > 0.3 and mid.low < 0.2
    assert end.final_lengthening > 0.5 > abs(mid.final_lengthening)


def test_the_pitch_is_measured_in_semitones_whatever_the_voice() -> None:
    # the same contour an octave up: the same cues
    low, high = (
        features(voice(STATEMENT)),
        features(voice([(d, 2 * a, 2 * b) for d, a, b in STATEMENT])),
    )
    assert high.declination == pytest.approx(low.declination, abs=0.5)
    assert high.low == pytest.approx(low.low, abs=0.1)


def test_energy_that_dies_away_is_a_drop() -> None:
    pcm = np.frombuffer(voice(MID_SENTENCE), dtype="<i2").astype(np.float64)
    faded = pcm.copy()
    last = round((8 * 0.21 + 0.0) * RATE)  # where the last syllable starts
    faded[last:] *= np.linspace(1.0, 0.05, faded.size - last)
    flat, fading = features(voice(MID_SENTENCE)), features(faded.astype("<i2").tobytes())
    assert fading.energy_drop < flat.energy_drop - 0.15  # 1.5 dB lower


def test_the_last_syllable_is_long_against_the_turns_own_syllables() -> None:
    end, mid = features(voice(STATEMENT)), features(voice(MID_SENTENCE))
    assert end.final_syllable > 0.6  # 0.35 s against 0.15 s: log 2.3
    assert abs(mid.final_syllable) < 0.2
    # a slower speaker's syllables are all longer: only the last one's excess counts
    slow = features(voice([(1.3 * d, a, b) for d, a, b in STATEMENT], gap=0.08))
    assert slow.final_syllable == pytest.approx(end.final_syllable, abs=0.2)


def test_a_voice_that_dies_away_has_a_long_release() -> None:
    stopped, faded = features(voice(STATEMENT)), features(voice(STATEMENT, fade=True))
    assert stopped.release < 0.05 < 0.1 < faded.release


def test_pitch_jitter_tells_a_synthesisers_smooth_pitch_from_a_wandering_one() -> None:
    smooth, wandering = features(voice(STATEMENT)), features(voice(STATEMENT, jitter=1.0))
    assert smooth.pitch_jitter < 0.1 < 0.3 < wandering.pitch_jitter


def test_silence_or_too_little_speech_gives_no_cues() -> None:
    assert prosody_features(b"") is None
    assert prosody_features(np.zeros(RATE, dtype="<i2").tobytes()) is None
    assert prosody_features(voice([(0.05, 120, 120)])) is None


def test_only_the_last_two_seconds_count() -> None:
    long = voice([(0.15, 200, 200)] * 30 + STATEMENT)
    assert features(long) == features(voice([(0.15, 200, 200)] * 30 + STATEMENT)[-2 * 2 * RATE :])


def test_the_cues_cost_little_cpu() -> None:
    pcm = voice(STATEMENT * 3)
    prosody_features(pcm)
    started = time.thread_time()
    for _ in range(20):
        prosody_features(pcm)
    # ~1-2 ms on this project's loaded 2-core machine; 10 ms catches a gross regression
    assert (time.thread_time() - started) / 20 < 0.010
