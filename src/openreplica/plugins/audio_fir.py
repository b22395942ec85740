"""Streaming upsampling by a whole factor (the replica's 24 kHz to a call's 48 kHz) that
holds back at most a millisecond of audio.

soxr's streaming resampler outputs its audio in blocks: fed the playout's 20 ms frames
at 24 kHz, its 48 kHz output trailed the input by 4-38 ms, 21 on average (quality HQ;
LQ 11, and its quick cubic mode makes images of the band): every word the replica said
into a call reached the Opus encoder that much later. Here each input sample becomes
`factor` outputs (zeros between the samples, then a windowed-sinc low-pass centred on
each output's own instant: zero phase, as soxr's), out as soon as the input
`TAPS_PER_SIDE` samples past it is in, and a stream gives the same samples however its
input is chunked (`bench/resample_lag.py` measures both).

The filter (`TAPS_PER_SIDE` input samples on each side of an output, Kaiser window) is
flat within 0.02 dB to 0.4 of the input rate (9.6 kHz from 24 kHz), 26 dB down at the
input's Nyquist and at least 50 dB down from 0.52 of the input rate on: the images of
the band above it are gone. What an output waits for: 0.7 ms at 24 kHz, 1 ms at 16.

Down (a call's 48 kHz to the VAD's 16 kHz) the same filter held back 1 ms instead of
21 and started the recogniser's early final pass ~20 ms sooner, but it did not bring the
first reply audio measurably sooner in `bench/voice.py`, and it moved one hesitant
utterance's pause over the end-of-turn model's line in every run (docs/voice.md): the
way in stays with soxr.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["Interpolator", "lowpass"]

#: filter taps on each side of an output sample's centre, per unit of the factor
TAPS_PER_SIDE = 16
#: the low-pass's cut-off (-6 dB) as a fraction of the input rate (0.5: its Nyquist)
CUTOFF = 0.46
#: the Kaiser window's shape (with the two above: the response in the module doc)
KAISER_BETA = 6.5

FloatArray = npt.NDArray[np.float64]
Int16Array = npt.NDArray[np.int16]


def lowpass(factor: int) -> FloatArray:
    """The filter at the output rate for `factor` (odd length, symmetric, gain `factor`
    at 0 Hz: the zeros put between the samples take the rest)."""
    half = TAPS_PER_SIDE * factor
    t = np.arange(-half, half + 1, dtype=np.float64)
    taps = np.sinc(2 * CUTOFF / factor * t) * np.kaiser(2 * half + 1, KAISER_BETA)
    return np.asarray(factor * taps / taps.sum(), np.float64)


class Interpolator:
    """int16 mono at 1/`factor` of the output rate in, in any chunks; `factor` outputs
    per input sample out."""

    def __init__(self, factor: int) -> None:
        if factor < 2:
            raise ValueError(f"an upsampling factor is 2 or more, got {factor}")
        self.factor = factor
        self._taps = lowpass(factor)
        self._half = TAPS_PER_SIDE * factor
        self.reset()

    def reset(self) -> None:
        # The output-rate signal (zeros between the samples) from `half` samples before
        # the next output on: zeros stand for the signal before the stream's start.
        self._buffer: FloatArray = np.zeros(self._half, np.float64)

    def process(self, samples: Int16Array) -> Int16Array:
        """The output samples whose input is all in."""
        stuffed = np.zeros(samples.size * self.factor, np.float64)
        stuffed[:: self.factor] = samples
        self._buffer = np.concatenate([self._buffer, stuffed])
        return self._emit()

    def resample_chunk(self, samples: Int16Array, last: bool = False) -> Int16Array:
        """soxr's `ResampleStream` call (`last`: and the rest), so `Resampler` drives
        either the same way."""
        out = self.process(samples)
        return np.concatenate([out, self.flush()]) if last else out

    def flush(self) -> Int16Array:
        """The rest (the input's end followed by silence), then start over."""
        self._buffer = np.concatenate([self._buffer, np.zeros(self._half, np.float64)])
        out = self._emit()
        self.reset()
        return out

    def _emit(self) -> Int16Array:
        count = self._buffer.size - self._taps.size + 1
        if count <= 0:
            return np.zeros(0, np.int16)
        out = np.convolve(self._buffer, self._taps, mode="valid")
        self._buffer = self._buffer[count:]
        return np.asarray(np.clip(np.rint(out), -32768, 32767), np.int16)
