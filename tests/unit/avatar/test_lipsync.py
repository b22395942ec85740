"""Audio level -> mouth opening, and the smoother that closes the lips on silence."""

from __future__ import annotations

import numpy as np
import pytest

from openreplica.plugins.avatar import MouthSmoother, mouth_open_from_pcm

RATE = 16000
FRAME = RATE // 50  # 20 ms


def tone(amplitude: float, samples: int = FRAME) -> bytes:
    t = np.arange(samples) / RATE
    wave = amplitude * 32767 * np.sin(2 * np.pi * 220 * t)
    return wave.astype("<i2").tobytes()


def test_silence_is_exactly_zero() -> None:
    assert mouth_open_from_pcm(b"") == 0.0
    assert mouth_open_from_pcm(bytes(FRAME * 2)) == 0.0
    assert mouth_open_from_pcm(b"\x01") == 0.0  # a lone odd byte is no sample
    assert mouth_open_from_pcm(tone(0.003)) == 0.0  # room noise below the floor


def test_loud_is_near_one_and_level_is_monotonic() -> None:
    assert mouth_open_from_pcm(tone(0.9)) > 0.95
    levels = [mouth_open_from_pcm(tone(a)) for a in (0.01, 0.03, 0.1, 0.3)]
    assert levels == sorted(levels)
    assert all(0.0 < x < 1.0 for x in levels)


def test_works_at_any_rate_and_frame_size() -> None:
    pcm48 = tone(0.2, samples=960)
    assert abs(mouth_open_from_pcm(pcm48) - mouth_open_from_pcm(tone(0.2))) < 0.05


def test_smoother_attacks_fast_and_zeroes_on_silence() -> None:
    s = MouthSmoother()
    first = s.update(1.0)
    assert first >= 0.7
    assert s.update(1.0) > first
    assert s.update(0.0) == 0.0  # interrupt: lips stop at once
    s.update(0.8)
    s.update(0.8)
    released = [s.update(0.05) for _ in range(3)]
    assert released[0] < 0.8 and released == sorted(released, reverse=True)
    assert s.update(0.0) == 0.0


def test_smoother_clamps_and_resets() -> None:
    s = MouthSmoother()
    assert 0.0 < s.update(5.0) <= 1.0
    assert s.update(-1.0) == 0.0
    s.update(0.9)
    s.reset()
    assert s.value == 0.0
    with pytest.raises(ValueError):
        MouthSmoother(attack=0.0)


def test_pipeline_on_speech_then_interrupt() -> None:
    s = MouthSmoother()
    speech = [s.update(mouth_open_from_pcm(tone(a))) for a in (0.2, 0.4, 0.1, 0.3)]
    assert all(x > 0.2 for x in speech)
    assert s.update(mouth_open_from_pcm(bytes(FRAME * 2))) == 0.0
