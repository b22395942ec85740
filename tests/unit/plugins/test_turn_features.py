"""The Smart Turn features against a slow, separately written reference: a DFT matrix
instead of the FFT, mel filters built one triangle at a time, explicit reflect padding."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from openreplica.plugins.turn_features import (
    N_FRAMES,
    N_MELS,
    WINDOW_SAMPLES,
    fit_window,
    log_mel,
    mel_filters,
)


def slaney_mel(hz: float) -> float:
    return 3.0 * hz / 200.0 if hz < 1000.0 else 15.0 + 27.0 * math.log(hz / 1000.0) / math.log(6.4)


def slaney_hz(mel: float) -> float:
    return 200.0 * mel / 3.0 if mel < 15.0 else 1000.0 * 6.4 ** ((mel - 15.0) / 27.0)


def slow_filters() -> npt.NDArray[np.float64]:
    top = slaney_mel(8000.0)
    edges = [slaney_hz(top * i / (N_MELS + 1)) for i in range(N_MELS + 2)]
    out = np.zeros((201, N_MELS))
    for m in range(N_MELS):
        lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
        for k in range(201):
            f = 8000.0 * k / 200
            if lo < f <= mid:
                out[k, m] = (f - lo) / (mid - lo)
            elif mid < f < hi:
                out[k, m] = (hi - f) / (hi - mid)
            out[k, m] *= 2.0 / (hi - lo)
    return out


def slow_log_mel(audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    x = np.zeros(WINDOW_SAMPLES)
    x[WINDOW_SAMPLES - audio.size :] = audio
    x = (x - x.sum() / x.size) / math.sqrt(((x - x.mean()) ** 2).mean() + 1e-7)
    padded = np.array(
        [
            x[abs(i)] if i < WINDOW_SAMPLES else x[2 * WINDOW_SAMPLES - 2 - i]
            for i in range(-200, WINDOW_SAMPLES + 200)
        ]
    )
    n = np.arange(400)
    window = np.array([math.sin(math.pi * i / 400) ** 2 for i in range(400)])
    dft = np.exp(-2j * np.pi * np.outer(np.arange(201), n) / 400)
    frames = np.stack([padded[t * 160 : t * 160 + 400] * window for t in range(N_FRAMES + 1)])
    power = np.abs(frames @ dft.T) ** 2
    mel = np.log10(np.maximum(power @ slow_filters(), 1e-10)).T[:, :N_FRAMES]
    mel = np.maximum(mel, mel.max() - 8.0)
    result: np.ndarray = (mel + 4.0) / 4.0
    return result


def test_the_mel_filters_match_a_triangle_by_triangle_construction() -> None:
    np.testing.assert_allclose(mel_filters(), slow_filters(), atol=1e-9)


def test_features_match_the_slow_reference_on_a_voice_like_signal() -> None:
    t = np.arange(24000) / 16000
    rng = np.random.default_rng(3)
    voiced = 0.3 * np.sin(2 * np.pi * 140 * t) * (1 + np.sin(2 * np.pi * 3 * t))
    audio = (voiced + rng.normal(0, 0.02, t.size)).astype(np.float32)
    fast = log_mel(audio)
    assert fast.shape == (N_MELS, N_FRAMES) and fast.dtype == np.float32
    np.testing.assert_allclose(fast, slow_log_mel(audio), atol=2e-4)


def test_the_window_keeps_the_last_eight_seconds() -> None:
    long = np.arange(WINDOW_SAMPLES + 500, dtype=np.float32)
    assert fit_window(long)[0] == 500 and fit_window(long)[-1] == WINDOW_SAMPLES + 499
    short = fit_window(np.ones(10, dtype=np.float32))
    assert short.size == WINDOW_SAMPLES and short[:-10].sum() == 0 and short[-10:].sum() == 10


def voice_like(samples: int, seed: int) -> npt.NDArray[np.float32]:
    t = np.arange(samples) / 16000
    rng = np.random.default_rng(seed)
    voiced = 0.3 * np.sin(2 * np.pi * 140 * t) * (1 + np.sin(2 * np.pi * 3 * t))
    audio: npt.NDArray[np.float32] = (voiced + rng.normal(0, 0.02, t.size)).astype(np.float32)
    return audio


def test_every_padding_case_matches_the_slow_reference() -> None:
    """The frames lying wholly in the zero padding are filled, not transformed; the first
    transformed frame may start in the padding, at the audio, or (under 200 samples of
    padding) in the reflection at the start: each boundary, either side."""
    for samples in (0, 1, 199, 200, 201, 360, 361, 16000, 127799, 127800, 127801, 128000):
        audio = voice_like(samples, samples)
        fast = log_mel(audio)
        assert fast.shape == (N_MELS, N_FRAMES) and fast.dtype == np.float32
        slow = slow_log_mel(audio) if samples else np.full((N_MELS, N_FRAMES), -1.5)
        np.testing.assert_allclose(fast, slow, atol=2e-4, err_msg=f"{samples} samples")


def test_longer_audio_keeps_the_last_eight_seconds() -> None:
    audio = voice_like(WINDOW_SAMPLES + 4000, 7)
    np.testing.assert_allclose(log_mel(audio), log_mel(audio[-WINDOW_SAMPLES:]), atol=1e-6)
    np.testing.assert_allclose(log_mel(audio), slow_log_mel(audio[-WINDOW_SAMPLES:]), atol=2e-4)
