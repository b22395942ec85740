"""Where the sound stopped, before the VAD's first silent frame (`runtime/audible_end.py`)."""

from __future__ import annotations

import numpy as np
import pytest

from openreplica.plugins.audio import float_to_pcm16
from openreplica.runtime.audible_end import MAX_BACK, audible_end

RATE = 16000


def pcm(*parts: np.ndarray) -> bytes:
    return float_to_pcm16(np.concatenate(parts))


def loud(seconds: float) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return 0.3 * np.sin(2 * np.pi * 220.0 * t)


def level(seconds: float, amplitude: float) -> np.ndarray:
    return amplitude * loud(seconds) / 0.3


def test_a_quiet_tail_the_vad_still_hears_is_not_counted() -> None:
    # 0.4 s of speech, then 60 ms 40 dB under it, then silence; the VAD's end at 0.47 s
    audio = pcm(loud(0.4), level(0.06, 0.003), np.zeros(round(0.052 * RATE)))
    end = audible_end(audio, len(audio) / 2 / RATE, 0.47, RATE)
    assert end == pytest.approx(0.4, abs=0.011)


def test_sound_up_to_the_vad_end_keeps_it() -> None:
    audio = pcm(loud(0.5), np.zeros(round(0.032 * RATE)))
    assert audible_end(audio, 0.532, 0.5, RATE) == pytest.approx(0.5)
    # sound that goes on into the silent frame: the VAD's end stands, never later
    audio = pcm(loud(0.52), np.zeros(round(0.012 * RATE)))
    assert audible_end(audio, 0.532, 0.5, RATE) == pytest.approx(0.5)


def test_never_more_than_the_limit_before_the_vad_end() -> None:
    audio = pcm(loud(0.2), np.zeros(round(0.3 * RATE)))
    assert audible_end(audio, 0.5, 0.45, RATE) == pytest.approx(0.45 - MAX_BACK)


def test_a_quiet_room_is_not_speech() -> None:
    # nothing over the absolute floor: the VAD's end stands
    noise = np.random.default_rng(1).normal(0.0, 0.0003, round(0.4 * RATE))
    audio = pcm(noise)
    assert audible_end(audio, 0.4, 0.37, RATE) == pytest.approx(0.37)
    assert audible_end(b"", 0.4, 0.37, RATE) == pytest.approx(0.37)


def test_the_level_is_relative_to_the_speech_before() -> None:
    # soft speech (-40 dBFS) is still speech: the threshold follows its level
    audio = pcm(level(0.3, 0.01), np.zeros(round(0.1 * RATE)))
    assert audible_end(audio, 0.4, 0.36, RATE) == pytest.approx(0.3, abs=0.011)


def test_a_soft_ending_in_a_noisy_room_counts_from_the_sound_not_the_noise() -> None:
    # speech 30 dB down from full scale, room noise at -50 dBFS (what the speech set and a
    # cheap microphone have): 30 dB under the speech is under the noise, so the noise
    # that the VAD's first silent frame holds sets the bar
    rng = np.random.default_rng(2)
    speech = np.concatenate([np.zeros(round(0.1 * RATE)), level(0.3, 0.045)])
    tail = np.zeros(round(0.202 * RATE))
    audio = np.concatenate([speech, tail])
    audio += rng.normal(0.0, 0.003, audio.size)
    end = audible_end(pcm(audio), len(audio) / RATE, 0.47, RATE)
    assert end == pytest.approx(0.4, abs=0.011)
    # the same audio without its silent frame: no noise estimate, the VAD's end stands
    cut = audio[: round(0.47 * RATE)]
    assert audible_end(pcm(cut), 0.47, 0.47, RATE) == pytest.approx(0.47)
