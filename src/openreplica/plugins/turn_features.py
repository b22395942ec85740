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


def _sparse_filters() -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32], npt.NDArray[np.intp]]:
    """The filters' non-zero weights (each a run of 1-14 neighbouring bins, 391 in all),
    as (bins, weights, where each filter's run starts) for `np.add.reduceat`: a dense
    (frames x 201) @ (201 x 80) product would go to OpenBLAS, whose threads spin on a
    busy machine (p95 several ms of CPU for a sub-millisecond product)."""
    dense = mel_filters()
    runs = [np.flatnonzero(dense[:, m]) for m in range(N_MELS)]
    if any(r.size == 0 or np.any(np.diff(r) != 1) for r in runs):
        raise ValueError("every mel filter must be one run of bins")
    bins = np.concatenate(runs)
    weights = np.concatenate([dense[r, m] for m, r in enumerate(runs)]).astype(np.float32)
    starts = np.cumsum([0] + [r.size for r in runs[:-1]])
    return bins, weights, starts


_BINS, _WEIGHTS, _STARTS = _sparse_filters()
_HANN = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(N_FFT) / N_FFT)  # periodic
_HANN32 = _HANN.astype(np.float32)
#: the mel power of a frame of ones: a constant frame of value c has c**2 times this
_ONES_MEL = (np.abs(np.fft.rfft(_HANN)) ** 2) @ mel_filters()
_HALF = N_FFT // 2


def fit_window(audio: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
    """The last 8 s of `audio`, zero-padded at the start when shorter."""
    x = np.asarray(audio, dtype=np.float32).reshape(-1)[-WINDOW_SAMPLES:]
    if x.size < WINDOW_SAMPLES:
        x = np.concatenate([np.zeros(WINDOW_SAMPLES - x.size, dtype=np.float32), x])
    return x


def log_mel(audio: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
    """Features of 16 kHz mono float audio (any length: see `fit_window`): (80, 800).

    The same numbers as the definition above, computed in float32 and only where the
    audio is: the zero padding of a short turn normalises to one constant c, so every
    frame lying wholly in it has the same mel power (c**2 times a frame of ones) and is
    filled in, not transformed. A 2 s turn transforms ~215 frames instead of 800."""
    x = np.asarray(audio, dtype=np.float32).reshape(-1)[-WINDOW_SAMPLES:]
    pad = WINDOW_SAMPLES - x.size
    # the 8 s window's mean and variance, zeros included (float64 sums of the audio only;
    # no np.dot: that is OpenBLAS again)
    x64 = x.astype(np.float64)
    mean = float(x64.sum()) / WINDOW_SAMPLES
    var = float(np.square(x64).sum()) / WINDOW_SAMPLES - mean * mean
    scale = 1.0 / np.sqrt(max(var, 0.0) + 1e-7)
    c = -mean * scale  # where the padding normalises to
    # frames 0..n_const-1 lie wholly in the padding (frame t spans samples
    # 160 t - 200 .. 160 t + 199 of the window; the reflection at the start of a
    # padded window reflects padding)
    n_const = 0 if pad < _HALF else min(N_FRAMES, (pad - _HALF) // HOP + 1)
    mel = np.empty((N_MELS, N_FRAMES), dtype=np.float32)
    if n_const:
        mel[:, :n_const] = np.log10(np.maximum(c * c * _ONES_MEL, 1e-10))[:, np.newaxis]
    if n_const < N_FRAMES:
        # the normalised window from the first transformed frame's start (sample
        # 160 n_const - 200), with Whisper's reflect padding of 200 at either end
        first = n_const * HOP - _HALF
        normalised = (x - np.float32(mean)) * np.float32(scale)
        if first >= 0:
            seg = np.empty(WINDOW_SAMPLES + _HALF - first, dtype=np.float32)
            lead = max(0, pad - first)
            seg[:lead] = c
            seg[lead : seg.size - _HALF] = normalised[max(0, first - pad) :]
        else:  # less than 200 samples of padding: reflect at the start too
            window = np.full(WINDOW_SAMPLES, c, dtype=np.float32)
            window[pad:] = normalised
            seg = np.empty(WINDOW_SAMPLES + 2 * _HALF, dtype=np.float32)
            seg[:_HALF] = window[_HALF:0:-1]
            seg[_HALF : _HALF + WINDOW_SAMPLES] = window
        body = seg[: seg.size - _HALF]
        seg[seg.size - _HALF :] = body[-2 : -_HALF - 2 : -1]
        if first < 0:
            seg = seg[n_const * HOP :]
        frames = np.lib.stride_tricks.sliding_window_view(seg, N_FFT)[::HOP][: N_FRAMES - n_const]
        spectrum = np.fft.rfft(frames * _HANN32, axis=-1)
        power = spectrum.real**2 + spectrum.imag**2
        weighted = power[:, _BINS]
        weighted *= _WEIGHTS
        mel[:, n_const:] = np.log10(np.maximum(np.add.reduceat(weighted, _STARTS, axis=1), 1e-10)).T
    np.maximum(mel, mel.max() - 8.0, out=mel)
    mel += 4.0
    mel *= 0.25
    return mel
