"""Streaming resampling by a whole factor (a call's 48 kHz to the VAD's 16 kHz, the
replica's 24 kHz to the call's 48 kHz) that holds back under a millisecond of audio.

soxr's streaming resampler outputs its audio in blocks: fed 20 ms chunks (a call's
packets, the playout's frames), its output trails the input by 4-38 ms, 21 on average
(48 to 16 kHz and 24 to 48 kHz alike, quality HQ; LQ 11, and its quick cubic mode
aliases). Every speech edge the VAD found in a call was that much later, and so was
every word the replica said. Here each output sample is a windowed-sinc low-pass
centred on its own instant (zero phase, as soxr's), computed as soon as the input
`TAPS_PER_SIDE` output samples past it is in, and a stream gives the same samples
however its input is chunked.

The filter (`TAPS_PER_SIDE` taps per unit of the factor on each side of its centre,
Kaiser window) is flat within 0.02 dB to 0.4 of the lower rate (6.4 kHz at 16 kHz),
0.7 dB down at 0.425 (6.8 kHz: where the recogniser's filter bank stops), 26 dB at the
lower rate's Nyquist, and at least 50 dB down from 0.52 of it on: what folds back lands
in the top 0.3 kHz of the band. What an output waits for: 1 ms at 16 kHz, 0.7 ms at 24.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["Decimator", "Interpolator", "lowpass"]

#: filter taps on each side of an output sample's centre, per unit of the factor
TAPS_PER_SIDE = 16
#: the low-pass's cut-off (-6 dB) as a fraction of the lower rate (0.5: its Nyquist)
CUTOFF = 0.46
#: the Kaiser window's shape (with the two above: the response in the module doc)
KAISER_BETA = 6.5

FloatArray = npt.NDArray[np.float64]
Int16Array = npt.NDArray[np.int16]


def lowpass(factor: int) -> FloatArray:
    """The filter at the higher rate for `factor` (odd length, symmetric, unity gain at
    0 Hz)."""
    half = TAPS_PER_SIDE * factor
    t = np.arange(-half, half + 1, dtype=np.float64)
    taps = np.sinc(2 * CUTOFF / factor * t) * np.kaiser(2 * half + 1, KAISER_BETA)
    return np.asarray(taps / taps.sum(), np.float64)


def _checked(factor: int) -> int:
    if factor < 2:
        raise ValueError(f"a resampling factor is 2 or more, got {factor}")
    return factor


class _StreamingFIR:
    """A symmetric FIR over a stream, evaluated at every `stride`-th input sample,
    centred on it: an output is out once the filter's half-width past it is in."""

    def __init__(self, taps: FloatArray, stride: int) -> None:
        self._taps = taps
        self._stride = stride
        self._half = (taps.size - 1) // 2
        self.reset()

    def reset(self) -> None:
        # The input from `half` samples before the next output's centre on: zeros
        # stand for the signal before the stream's start.
        self._buffer: FloatArray = np.zeros(self._half, np.float64)
        self._received = 0  # input samples so far
        self._emitted = 0  # output samples so far

    def push(self, x: FloatArray) -> Int16Array:
        self._buffer = np.concatenate([self._buffer, x])
        self._received += x.size
        return self._emit()

    def flush(self) -> Int16Array:
        """The rest (the input's end padded with silence), then start over."""
        due = -(-self._received // self._stride) - self._emitted
        self._buffer = np.concatenate([self._buffer, np.zeros(self._half, np.float64)])
        out = self._emit(limit=due)
        self.reset()
        return out

    def _emit(self, limit: int | None = None) -> Int16Array:
        width = self._taps.size
        count = max(0, (self._buffer.size - width) // self._stride + 1)
        if limit is not None:
            count = min(count, limit)
        if count == 0:
            return np.zeros(0, np.int16)
        windows = np.lib.stride_tricks.sliding_window_view(self._buffer, width)
        out = windows[: count * self._stride : self._stride] @ self._taps
        self._buffer = self._buffer[count * self._stride :]
        self._emitted += count
        return np.asarray(np.clip(np.rint(out), -32768, 32767), np.int16)


class Decimator:
    """int16 mono at `factor` times the output rate in, in any chunks."""

    def __init__(self, factor: int) -> None:
        self.factor = _checked(factor)
        self._fir = _StreamingFIR(lowpass(factor), stride=factor)

    def process(self, samples: Int16Array) -> Int16Array:
        """The output samples whose input is all in."""
        return self._fir.push(samples.astype(np.float64))

    def flush(self) -> Int16Array:
        """The rest (one output per `factor` inputs, the last partial), then start over."""
        return self._fir.flush()

    def reset(self) -> None:
        self._fir.reset()


class Interpolator:
    """int16 mono at 1/`factor` of the output rate in, in any chunks: each input sample
    becomes `factor` outputs (zeros between the samples, then the low-pass)."""

    def __init__(self, factor: int) -> None:
        self.factor = _checked(factor)
        self._fir = _StreamingFIR(lowpass(factor) * factor, stride=1)

    def process(self, samples: Int16Array) -> Int16Array:
        """The output samples whose input is all in."""
        stuffed = np.zeros(samples.size * self.factor, np.float64)
        stuffed[:: self.factor] = samples
        return self._fir.push(stuffed)

    def flush(self) -> Int16Array:
        """The rest (`factor` outputs per input), then start over."""
        return self._fir.flush()

    def reset(self) -> None:
        self._fir.reset()
