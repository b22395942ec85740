"""Audio helpers shared by the plugins: PCM conversion, resampling, levels, WAV.

Everything crossing plugin interfaces is 16-bit little-endian mono PCM in `bytes`
(see `base.AudioChunk`); these helpers convert to and from numpy only where maths
is needed.
"""

from __future__ import annotations

import io
import wave

import numpy as np
import numpy.typing as npt
import soxr

from openreplica.plugins.audio_fir import Interpolator
from openreplica.plugins.base import AudioChunk

__all__ = [
    "Resampler",
    "float_to_pcm16",
    "from_wav",
    "pcm16_to_float",
    "resample",
    "rms",
    "silence",
    "stereo_to_mono",
    "to_wav",
    "tone",
]

FloatArray = npt.NDArray[np.float32]

_INT16_SCALE = 32768.0


def pcm16_to_float(pcm: bytes) -> FloatArray:
    """int16 little-endian bytes -> float32 in [-1, 1)."""
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2")
    return (samples.astype(np.float32) / _INT16_SCALE).astype(np.float32)


def float_to_pcm16(samples: npt.NDArray[np.floating]) -> bytes:
    """float in [-1, 1] -> int16 little-endian bytes (clipped, never wraps around)."""
    scaled = np.clip(np.asarray(samples, dtype=np.float64) * _INT16_SCALE, -32768, 32767)
    return np.round(scaled).astype("<i2").tobytes()


def stereo_to_mono(pcm: bytes, channels: int = 2) -> bytes:
    """Average interleaved int16 channels into one."""
    if channels == 1:
        return pcm
    frame_bytes = 2 * channels
    usable = len(pcm) - len(pcm) % frame_bytes
    frames = np.frombuffer(pcm[:usable], dtype="<i2").reshape(-1, channels)
    # Average in int32 so that two loud channels cannot overflow.
    mono: npt.NDArray[np.int32] = frames.astype(np.int32).sum(axis=1) // channels
    return mono.astype("<i2").tobytes()


def resample(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    """Resample a whole int16 mono buffer (one shot; use `Resampler` for streams)."""
    if from_rate == to_rate or not pcm:
        return pcm
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2")
    out = soxr.resample(samples, from_rate, to_rate)
    return np.asarray(out, dtype="<i2").tobytes()


class Resampler:
    """Streaming int16 mono resampler: chunked input gives continuous output.

    A one-shot `resample` per chunk would restart the filter at every boundary (clicks
    and a small drift in length); soxr's stream keeps the filter state across chunks.
    Up by a whole factor (the replica's 24 kHz to a call's 48 kHz) an `Interpolator`
    does it instead: soxr's stream holds back ~21 ms of audio there, it 1 ms at most.
    (Down, a call's 48 kHz to the VAD's 16 kHz, stays with soxr: see `audio_fir`.)
    """

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self.from_rate = from_rate
        self.to_rate = to_rate
        self._stream = self._new_stream()
        # An odd trailing byte waits for its partner in the next chunk.
        self._carry = b""

    def _new_stream(self) -> soxr.ResampleStream | Interpolator | None:
        if self.from_rate == self.to_rate:
            return None
        if self.to_rate % self.from_rate == 0:
            return Interpolator(self.to_rate // self.from_rate)
        return soxr.ResampleStream(self.from_rate, self.to_rate, 1, dtype="int16")

    def process(self, pcm: bytes, last: bool = False) -> bytes:
        data = self._carry + pcm
        usable = len(data) - len(data) % 2
        self._carry = data[usable:]
        if self._stream is None:
            return data[:usable]
        samples = np.frombuffer(data[:usable], dtype="<i2")
        out = self._stream.resample_chunk(samples, last=last)
        return np.asarray(out, dtype="<i2").tobytes()

    def flush(self) -> bytes:
        """Drain the filter's delay line at the end of a stream, then reset."""
        out = self.process(b"", last=True)
        self.reset()
        return out

    def reset(self) -> None:
        self._carry = b""
        # A fresh stream rather than `clear()`: clear keeps some dither state, and a
        # reset stream must give the same output as a new one.
        self._stream = self._new_stream()


def rms(pcm: bytes) -> float:
    """Root-mean-square level of int16 PCM, 0 (silence) .. 1 (full-scale square wave)."""
    samples = pcm16_to_float(pcm)
    if samples.size == 0:
        return 0.0
    return float(min(1.0, np.sqrt(np.mean(np.square(samples, dtype=np.float64)))))


def silence(samples: int) -> bytes:
    """`samples` int16 zeros."""
    return bytes(2 * max(0, samples))


def tone(frequency: float, seconds: float, sample_rate: int, amplitude: float = 0.3) -> bytes:
    """A sine tone as int16 PCM (test material and the scripted TTS)."""
    n = round(seconds * sample_rate)
    t = np.arange(n, dtype=np.float64) / sample_rate
    return float_to_pcm16(amplitude * np.sin(2 * np.pi * frequency * t))


def to_wav(pcm: bytes, sample_rate: int) -> bytes:
    """Wrap int16 mono PCM in a WAV container."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm)
    return buf.getvalue()


def from_wav(data: bytes) -> AudioChunk:
    """Parse a 16-bit WAV (mono or multi-channel, downmixed) into an AudioChunk.

    Tolerates the bogus 0xFFFFFFFF data length that streaming writers (espeak-ng
    `--stdout`) put in the header: the `wave` module reads until the end regardless.
    """
    with wave.open(io.BytesIO(data), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"expected 16-bit WAV, got {8 * w.getsampwidth()}-bit")
        channels = w.getnchannels()
        rate = w.getframerate()
        frames = w.readframes(w.getnframes())
    return AudioChunk(stereo_to_mono(frames, channels), rate)
