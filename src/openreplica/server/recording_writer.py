"""Mixing and encoding one call's recording (runs in the recording's worker thread).

Two audio sources arrive as timestamped chunks of 16-bit PCM: the replica's speech as it
is played out, and the user's microphone. Each is resampled to 48 kHz mono and laid on
the call's timeline at the time it arrived (a gap longer than `GAP_SECONDS` is silence;
shorter jitter is closed up), then the sources are summed. The replica's face is rendered
at `fps` with its mouth driven by the replica's audio in each frame, exactly as the
WebRTC video track does. Out comes one WebM file: Opus audio and, unless the call is
audio-only, VP8 video (PyAV).

Nothing here touches the event loop: `CallMix.advance(until)` is called by the worker
with the media time that is safe to write (a little behind real time, so that late chunks
still land in place).
"""

from __future__ import annotations

import fractions
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from openreplica.plugins.audio import Resampler, stereo_to_mono
from openreplica.plugins.avatar import MouthSmoother, mouth_open_from_pcm
from openreplica.plugins.base import AvatarStream

__all__ = ["RATE", "CallMix", "Chunk", "DiskQuotaExceeded"]

RATE = 48_000
#: Opus encodes 20 ms frames
FRAME = 960
#: a source silent for longer than this gets silence; shorter gaps are arrival jitter
GAP_SECONDS = 0.1


class DiskQuotaExceeded(Exception):
    """Writing on would pass the recordings' disk budget."""


@dataclass(frozen=True, slots=True)
class Chunk:
    source: str  # "replica" or "user"
    #: seconds since the recording started, when the chunk arrived
    at: float
    pcm: bytes
    sample_rate: int
    channels: int = 1


class _Source:
    """One source's samples on the timeline, from `start` (a sample index) on."""

    def __init__(self) -> None:
        self.start = 0
        self.samples = np.zeros(0, dtype=np.float32)
        self._resampler: Resampler | None = None

    @property
    def end(self) -> int:
        return self.start + self.samples.size

    def add(self, chunk: Chunk, written: int) -> None:
        mono = stereo_to_mono(chunk.pcm, chunk.channels) if chunk.channels > 1 else chunk.pcm
        if self._resampler is None or self._resampler.from_rate != chunk.sample_rate:
            self._resampler = Resampler(chunk.sample_rate, RATE)
        pcm = self._resampler.process(mono)
        data = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
        at = round(chunk.at * RATE)
        end = max(self.end, written)
        if at - end > GAP_SECONDS * RATE:
            end = at  # a pause: silence up to now
        if self.samples.size == 0:
            self.start = end
            self.samples = data
            return
        pad = np.zeros(end - self.end, dtype=np.float32)
        self.samples = np.concatenate([self.samples, pad, data])

    def take(self, begin: int, end: int) -> np.ndarray:
        """Samples for [begin, end) (zeros where there are none); drops what is before `end`."""
        out = np.zeros(end - begin, dtype=np.float32)
        lo, hi = max(begin, self.start), min(end, self.end)
        if hi > lo:
            out[lo - begin : hi - begin] = self.samples[lo - self.start : hi - self.start]
        if end > self.start:
            cut = min(end - self.start, self.samples.size)
            self.samples = self.samples[cut:]
            self.start += cut
        return out


class CallMix:
    """The recording file being written."""

    def __init__(
        self,
        path: Path,
        face: AvatarStream | None,
        fps: float,
        max_bytes: int,
    ) -> None:
        self.path = path
        self._max_bytes = max_bytes
        self._container = av.open(str(path), "w", format="webm")
        self._audio = self._container.add_stream("libopus", rate=RATE, layout="mono")
        self._audio.bit_rate = 48_000
        self._face = face
        self._fps = fps
        self._video: av.VideoStream | None = None
        if face is not None:
            video = self._container.add_stream("libvpx", rate=fractions.Fraction(fps))
            video.width, video.height = face.width, face.height
            video.pix_fmt = "yuv420p"
            video.bit_rate = 600_000
            # libvpx's fastest realtime mode on one thread (the worker is one thread per
            # call): about 5 times cheaper than its default for a talking head
            video.options = {"deadline": "realtime", "cpu-used": "16", "threads": "1"}
            self._video = video
        self._sources = {"replica": _Source(), "user": _Source()}
        self._smoother = MouthSmoother()
        self._replica_tail = np.zeros(0, dtype=np.float32)  # for the next video frame
        self.written = 0  # samples of audio written
        self._frames = 0  # video frames written

    @property
    def seconds(self) -> float:
        return self.written / RATE

    def add(self, chunks: Iterable[Chunk]) -> None:
        for chunk in chunks:
            self._sources[chunk.source].add(chunk, self.written)

    def advance(self, until: float) -> None:
        """Mix, render and encode everything up to `until` seconds (whole 20 ms frames)."""
        end = int(until * RATE) // FRAME * FRAME
        if end <= self.written:
            return
        replica = self._sources["replica"].take(self.written, end)
        user = self._sources["user"].take(self.written, end)
        mixed = np.clip(replica + user, -32768, 32767).astype("<i2")
        for offset in range(0, mixed.size, FRAME):
            frame = av.AudioFrame.from_ndarray(
                mixed[offset : offset + FRAME].reshape(1, -1), format="s16", layout="mono"
            )
            frame.sample_rate = RATE
            frame.pts = self.written + offset
            self._mux(self._audio.encode(frame))
        self.written = end
        if self._video is not None:
            self._render(replica)
        self._check_size()

    def _render(self, replica: np.ndarray) -> None:
        assert self._face is not None and self._video is not None
        audio = np.concatenate([self._replica_tail, replica])
        start = self.written - audio.size  # the sample index audio[0] is at
        while (self._frames + 1) / self._fps * RATE <= self.written:
            lo = round(self._frames / self._fps * RATE) - start
            hi = round((self._frames + 1) / self._fps * RATE) - start
            pcm = audio[max(0, lo) : hi].astype("<i2").tobytes()
            mouth = self._smoother.update(mouth_open_from_pcm(pcm))
            rgb = self._face.render(self._frames / self._fps, mouth)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = self._frames
            frame.time_base = fractions.Fraction(1) / fractions.Fraction(self._fps)
            self._mux(self._video.encode(frame))
            self._frames += 1
        keep = self.written - round(self._frames / self._fps * RATE)
        self._replica_tail = audio[audio.size - keep :] if keep > 0 else audio[:0]

    def _mux(self, packets: Iterable[av.Packet]) -> None:  # type: ignore[type-arg]
        for packet in packets:
            self._container.mux(packet)

    def _check_size(self) -> None:
        if self.path.stat().st_size > self._max_bytes:
            raise DiskQuotaExceeded(
                f"the recording reached its disk budget of {self._max_bytes} bytes"
            )

    def close(self) -> None:
        """Flush the encoders and finish the file (also after an error: what was
        written stays playable)."""
        try:
            self._mux(self._audio.encode(None))
            if self._video is not None:
                self._mux(self._video.encode(None))
        finally:
            self._container.close()
