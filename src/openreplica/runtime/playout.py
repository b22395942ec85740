"""Audio playout: paces queued speech out in 20 ms frames on the clock.

Speaking takes real time even when no media consumer is attached (no sink), so events
and captions follow the same timeline a listener would hear. A stop drops everything
queued for a generation at once: the audio ends within the frame being played.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from openreplica.runtime.clock import Clock

FRAME_SECONDS = 0.02


class AudioSink(Protocol):
    """Where played frames go (a WebRTC track, a recorder). 16-bit mono PCM."""

    def write(self, pcm: bytes, sample_rate: int) -> None: ...


@dataclass(slots=True)
class _Chunk:
    gen: int
    segment: int
    pcm: bytes
    offset: int = 0


# (gen, segment, samples played) for each piece of a frame; then gen drained
PlayedCallback = Callable[[int, int, int], None]
DrainedCallback = Callable[[int], None]


class Playout:
    def __init__(
        self,
        clock: Clock,
        sample_rate: int,
        on_played: PlayedCallback,
        on_drained: DrainedCallback,
    ) -> None:
        self.sample_rate = sample_rate
        self.sink: AudioSink | None = None
        self._clock = clock
        self._frame_bytes = round(sample_rate * FRAME_SECONDS) * 2
        self._queue: deque[_Chunk] = deque()
        self._on_played = on_played
        self._on_drained = on_drained
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: (gen, end time) of the last frame handed to the sink
        self._heard: tuple[int, float] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="playout")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def enqueue(self, gen: int, segment: int, pcm: bytes) -> None:
        if pcm:
            self._queue.append(_Chunk(gen, segment, pcm))
            self._wake.set()

    def stop(self, gen: int) -> float | None:
        """Drop `gen`'s queued audio. When `gen` is being heard, returns the time its
        last frame handed to the sink ends (silence from then on); else None."""
        self._queue = deque(c for c in self._queue if c.gen != gen)
        heard = self._heard
        if heard is not None and heard[0] == gen and heard[1] > self._clock.now():
            return heard[1]
        return None

    @property
    def queued_seconds(self) -> float:
        samples = sum(len(c.pcm) - c.offset for c in self._queue) // 2
        return samples / self.sample_rate

    async def _run(self) -> None:
        next_frame = self._clock.now()
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                next_frame = max(next_frame, self._clock.now())
            frame, pieces = self._take_frame()
            if self.sink is not None:
                self.sink.write(frame, self.sample_rate)
            for gen, segment, samples in pieces:
                self._on_played(gen, segment, samples)
            next_frame += FRAME_SECONDS
            if pieces:
                self._heard = (pieces[-1][0], next_frame)
            await self._clock.sleep_until(next_frame)
            finished = {gen for gen, _, _ in pieces}
            for gen in sorted(finished):
                if not any(c.gen == gen for c in self._queue):
                    self._on_drained(gen)

    def _take_frame(self) -> tuple[bytes, list[tuple[int, int, int]]]:
        """One frame of audio and which (gen, segment) each part came from."""
        parts: list[bytes] = []
        pieces: list[tuple[int, int, int]] = []
        need = self._frame_bytes
        while need and self._queue:
            chunk = self._queue[0]
            take = chunk.pcm[chunk.offset : chunk.offset + need]
            chunk.offset += len(take)
            need -= len(take)
            parts.append(take)
            pieces.append((chunk.gen, chunk.segment, len(take) // 2))
            if chunk.offset >= len(chunk.pcm):
                self._queue.popleft()
        frame = b"".join(parts)
        return frame + b"\x00" * need, pieces
