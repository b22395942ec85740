"""Whisper-style log-mel features, as Smart Turn v3 was trained on (numpy only).

The model takes exactly 8 s of 16 kHz audio: the last 8 s of the turn, zero-padded at
the *start* when shorter. The features are those of Whisper's feature extractor with an
8 s chunk: the waveform normalised to zero mean and unit variance, a centred STFT
(reflect padding, periodic Hann window of 400 samples, hop 160), its power through 80
Slaney-normalised mel filters spanning 0-8 kHz, log10 (floored at 1e-10), the last frame
dropped, clipped to 8 below the maximum and mapped by (x + 4) / 4: shape (80, 800).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["N_FRAMES", "N_MELS", "SAMPLE_RATE", "WINDOW_SAMPLES", "log_mel", "mel_filters"]

SAMPLE_RATE = 16000
N_FFT = 400
HOP = 160
N_MELS = 80
#: the model's input window: 8 s
WINDOW_SAMPLES = 8 * SAMPLE_RATE
N_FRAMES = WINDOW_SAMPLES // HOP

Floats = npt.NDArray[np.float64]


def _hz_to_mel(hz: Floats) -> Floats:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    linear = 3.0 * hz / 200.0
    log = 15.0 + np.log(np.maximum(hz, 1e-12) / 1000.0) * (27.0 / np.log(6.4))
    return np.where(hz >= 1000.0, log, linear)


def _mel_to_hz(mel: Floats) -> Floats:
    linear = 200.0 * mel / 3.0
    log = 1000.0 * np.exp((mel - 15.0) * (np.log(6.4) / 27.0))
    return np.where(mel >= 15.0, log, linear)


def mel_filters(n_mels: int = N_MELS, n_fft: int = N_FFT, rate: int = SAMPLE_RATE) -> Floats:
    """Triangular filters, (n_fft // 2 + 1, n_mels), each scaled to unit area (Slaney)."""
    edges = _mel_to_hz(np.linspace(0.0, float(_hz_to_mel(np.array(rate / 2.0))), n_mels + 2))
    bins = np.linspace(0.0, rate / 2.0, n_fft // 2 + 1)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins[:, None] - lower) / (centre - lower)
    falling = (upper - bins[:, None]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return weights * (2.0 / (upper - lower))


_FILTERS = mel_filters()
_HANN = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(N_FFT) / N_FFT)  # periodic


def fit_window(audio: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
    """The last 8 s of `audio`, zero-padded at the start when shorter."""
    x = np.asarray(audio, dtype=np.float32).reshape(-1)[-WINDOW_SAMPLES:]
    if x.size < WINDOW_SAMPLES:
        x = np.concatenate([np.zeros(WINDOW_SAMPLES - x.size, dtype=np.float32), x])
    return x


def log_mel(audio: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
    """Features of 16 kHz mono float audio (any length: see `fit_window`): (80, 800)."""
    x = fit_window(audio)
    x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    half = N_FFT // 2
    padded = np.pad(x.astype(np.float64), (half, half), mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    power = np.abs(np.fft.rfft(frames * _HANN, axis=-1)) ** 2  # (frames, bins)
    mel = np.log10(np.maximum(power @ _FILTERS, 1e-10)).T[:, :-1]  # (mels, frames)
    mel = np.maximum(mel, mel.max() - 8.0)
    features: npt.NDArray[np.float32] = ((mel + 4.0) / 4.0).astype(np.float32)
    return features
