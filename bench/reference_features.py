"""The Smart Turn features as first written (float64, every frame computed): the
reference `bench/turn_model_check.py` judges `plugins/turn_features.py` against."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from openreplica.plugins.turn_features import HOP, N_FFT, WINDOW_SAMPLES, mel_filters

_FILTERS = mel_filters()
_HANN = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(N_FFT) / N_FFT)  # periodic


def reference_log_mel(audio: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
    """(80, 800) features of 16 kHz mono float audio, zero-padded at the start to 8 s."""
    x = np.asarray(audio, dtype=np.float32).reshape(-1)[-WINDOW_SAMPLES:]
    if x.size < WINDOW_SAMPLES:
        x = np.concatenate([np.zeros(WINDOW_SAMPLES - x.size, dtype=np.float32), x])
    x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    half = N_FFT // 2
    padded = np.pad(x.astype(np.float64), (half, half), mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    power = np.abs(np.fft.rfft(frames * _HANN, axis=-1)) ** 2  # (frames, bins)
    mel = np.log10(np.maximum(power @ _FILTERS, 1e-10)).T[:, :-1]  # (mels, frames)
    mel = np.maximum(mel, mel.max() - 8.0)
    features: npt.NDArray[np.float32] = ((mel + 4.0) / 4.0).astype(np.float32)
    return features
