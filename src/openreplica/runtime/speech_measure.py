"""What a spoken user turn sounded like: its length, loudness and pitch.

`measure_speech` runs on the 16 kHz mono PCM of one speech segment (numpy; called in a
worker thread by the voice path, alongside the recogniser's final pass so it adds no
delay). The engine adds up the segments of a turn and words the result with
`openreplica.engine.audio_analysis` (SPEC §1.2 `user_audio_analysis`).

Pitch is the median fundamental frequency of the voiced 40 ms frames, found by
autocorrelation in the range of human speech (70–400 Hz); a frame is voiced when it is
loud enough and its autocorrelation peak is clear.
"""

from __future__ import annotations

import math

import numpy as np

from openreplica.engine.io import SpeechMeasurement

__all__ = ["measure_speech"]

FRAME_SECONDS = 0.04
MIN_PITCH_HZ = 70.0
MAX_PITCH_HZ = 400.0
#: frames quieter than this (dBFS) are not used for pitch
VOICED_MIN_DBFS = -45.0
#: normalised autocorrelation a frame's peak must reach to count as voiced
VOICED_MIN_CORRELATION = 0.45


def _dbfs(power: float) -> float:
    return 10.0 * math.log10(power) if power > 1e-12 else -120.0


def _frame_pitches(frames: np.ndarray, sample_rate: int) -> np.ndarray:
    """The pitch of each voiced frame (rows of `frames`), all frames at once."""
    frames = frames - frames.mean(axis=1, keepdims=True)
    energy = np.einsum("ij,ij->i", frames, frames)
    spectrum = np.fft.rfft(frames, 2 * frames.shape[1], axis=1)
    correlation = np.fft.irfft(spectrum * np.conj(spectrum), axis=1)[:, : frames.shape[1]]
    low = int(sample_rate / MAX_PITCH_HZ)
    high = min(int(sample_rate / MIN_PITCH_HZ), frames.shape[1] - 1)
    if high <= low:
        return np.empty(0)
    window = correlation[:, low:high] / energy[:, None]
    lags = low + np.argmax(window, axis=1)
    peaks = window[np.arange(window.shape[0]), lags - low]
    voiced: np.ndarray = sample_rate / lags[peaks >= VOICED_MIN_CORRELATION]
    return voiced


def measure_speech(pcm: bytes, sample_rate: int) -> SpeechMeasurement:
    """Seconds, loudness (dBFS) and median pitch (Hz, None when nothing was voiced)."""
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64) / 32768.0
    seconds = samples.size / sample_rate
    loudness = _dbfs(float(np.mean(np.square(samples)))) if samples.size else -120.0
    size = max(1, int(FRAME_SECONDS * sample_rate))
    count = samples.size // size
    pitch: float | None = None
    if count:
        frames = samples[: count * size].reshape(count, size)
        power = np.mean(np.square(frames), axis=1)
        loud = frames[power > 10 ** (VOICED_MIN_DBFS / 10)]
        pitches = _frame_pitches(loud, sample_rate) if len(loud) else np.empty(0)
        pitch = float(np.median(pitches)) if pitches.size else None
    return SpeechMeasurement(seconds=seconds, loudness_dbfs=loudness, pitch_hz=pitch)
