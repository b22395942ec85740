"""Audio playout: paces queued speech out in 20 ms frames on the clock.

Speaking takes real time even when no media consumer is attached (no sink), so events
and captions follow the same timeline a listener would hear. Every played frame goes to
each of `sinks` (WebRTC peers, a call recording: whoever hears the replica, attached
through `ConversationRuntime.add_speech_listener`). A stop drops everything
queued for a generation at once: the audio ends within the frame being played.

Audio of any rate is resampled to the output rate on the way in. A small chunk is
resampled at once; a large one (an echoed message can hold tens of seconds, a TTS
sentence several) a bounded slice per event-loop step, so no conversation's audio can
stall the others. (Slices rather than a worker thread: soxr holds the GIL while it
works, so a thread would stall the loop just the same.) Chunks keep their order either
way, and each delivers exactly `resampled_length` samples, the count the engine expects.
Every per-frame operation is O(1) in the amount queued: totals are kept as running counts.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from openreplica.engine.io import resampled_length
from openreplica.plugins.audio import Resampler, resample
from openreplica.runtime.clock import Clock
from openreplica.runtime.guard import Spawn, create_task

FRAME_SECONDS = 0.02
#: audio resampled in one event-loop step (1 s at 16 kHz: well under a millisecond)
RESAMPLE_SLICE_BYTES = 32 * 1024


class AudioSink(Protocol):
    """Where played frames go (a WebRTC peer, a recorder). 16-bit mono PCM."""

    def write(self, pcm: bytes, sample_rate: int) -> None: ...


@dataclass(slots=True)
class _Chunk:
    gen: int
    segment: int
    pcm: bytes
    offset: int = 0


@dataclass(slots=True)
class _Incoming:
    """A chunk waiting to be resampled (in arrival order)."""

    gen: int
    segment: int
    pcm: bytes
    sample_rate: int

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / self.sample_rate


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
        *,
        resample_slice_bytes: int = RESAMPLE_SLICE_BYTES,
        spawn: Spawn = create_task,
    ) -> None:
        """`spawn` starts the playout's tasks (the runtime's guard: a failure in
        `on_played`, `on_drained` or the sink ends the conversation, not just playout)."""
        self.sample_rate = sample_rate
        #: every played frame goes to each of these, in order
        self.sinks: list[AudioSink] = []
        self._clock = clock
        self._spawn = spawn
        self._frame_bytes = round(sample_rate * FRAME_SECONDS) * 2
        self._slice_bytes = resample_slice_bytes - resample_slice_bytes % 2
        self._queue: deque[_Chunk] = deque()
        self._queued_bytes = 0  # unplayed bytes in `_queue`
        self._incoming: deque[_Incoming] = deque()
        self._chunks_of: dict[int, int] = {}  # gen -> chunks in `_queue` and `_incoming`
        self._on_played = on_played
        self._on_drained = on_drained
        self._wake = asyncio.Event()
        self._played_frame = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._converter: asyncio.Task[None] | None = None
        #: (gen, end time) of the last frame handed to the sink
        self._heard: tuple[int, float] | None = None

    def start(self) -> None:
        self._task = self._spawn(self._run(), "playout")

    async def aclose(self) -> None:
        tasks = [t for t in (self._task, self._converter) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def enqueue(self, gen: int, segment: int, pcm: bytes, sample_rate: int) -> None:
        """Queue 16-bit mono PCM at any rate for this generation's segment."""
        if not pcm:
            return
        self._count(gen, +1)
        small = sample_rate == self.sample_rate or len(pcm) <= self._slice_bytes
        if small and not self._incoming:
            audio = resample(pcm, sample_rate, self.sample_rate)
            self._append(gen, segment, self._exact(audio, pcm, sample_rate))
            return
        self._incoming.append(_Incoming(gen, segment, pcm, sample_rate))
        if self._converter is None:
            self._converter = self._spawn(self._convert(), "playout-resampler")

    def stop(self, gen: int) -> float | None:
        """Drop `gen`'s queued audio. When `gen` is being heard, returns the time its
        last frame handed to the sink ends (silence from then on); else None."""
        self._queue = deque(c for c in self._queue if c.gen != gen)
        self._incoming = deque(c for c in self._incoming if c.gen != gen)
        self._queued_bytes = sum(len(c.pcm) - c.offset for c in self._queue)
        self._chunks_of.pop(gen, None)
        self._played_frame.set()
        heard = self._heard
        if heard is not None and heard[0] == gen and heard[1] > self._clock.now():
            return heard[1]
        return None

    @property
    def queued_seconds(self) -> float:
        """Audio waiting to be played (including audio still being resampled)."""
        waiting = sum(c.seconds for c in self._incoming)  # a few large chunks at most
        return self._queued_bytes / 2 / self.sample_rate + waiting

    async def wait_until_queued_at_most(self, seconds: float) -> None:
        """Return once no more than `seconds` of audio wait to be played (backpressure
        for whoever produces it)."""
        while self.queued_seconds > seconds:
            self._played_frame.clear()
            await self._played_frame.wait()

    # ------------------------------------------------------------------ internals

    def _count(self, gen: int, delta: int) -> None:
        left = self._chunks_of.get(gen, 0) + delta
        if left > 0:
            self._chunks_of[gen] = left
        else:
            self._chunks_of.pop(gen, None)

    def _append(self, gen: int, segment: int, pcm: bytes) -> None:
        if not pcm:  # resampling a few samples can give none
            self._count(gen, -1)
            return
        self._queue.append(_Chunk(gen, segment, pcm))
        self._queued_bytes += len(pcm)
        self._wake.set()

    async def _convert(self) -> None:
        try:
            while self._incoming:
                item = self._incoming[0]
                pcm = await self._resample_in_slices(item)
                if pcm is not None:
                    self._incoming.popleft()
                    self._append(item.gen, item.segment, pcm)
        finally:
            self._converter = None

    async def _resample_in_slices(self, item: _Incoming) -> bytes | None:
        """The chunk at the output rate, or None when it was stopped meanwhile."""
        stream = Resampler(item.sample_rate, self.sample_rate)
        parts: list[bytes] = []
        for start in range(0, len(item.pcm), self._slice_bytes):
            parts.append(stream.process(item.pcm[start : start + self._slice_bytes]))
            await asyncio.sleep(0)  # let every other task run between slices
            if not self._incoming or self._incoming[0] is not item:
                return None
        parts.append(stream.flush())
        return self._exact(b"".join(parts), item.pcm, item.sample_rate)

    def _exact(self, audio: bytes, source: bytes, source_rate: int) -> bytes:
        """Exactly the samples the engine counted for `source` (a resampler's filter may
        give one more or one less)."""
        size = 2 * resampled_length(len(source) // 2, source_rate, self.sample_rate)
        return audio[:size] + bytes(max(0, size - len(audio)))

    async def _run(self) -> None:
        next_frame = self._clock.now()
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                next_frame = max(next_frame, self._clock.now())
            frame, pieces = self._take_frame()
            for sink in self.sinks:
                sink.write(frame, self.sample_rate)
            for gen, segment, samples in pieces:
                self._on_played(gen, segment, samples)
            next_frame += FRAME_SECONDS
            if pieces:
                self._heard = (pieces[-1][0], next_frame)
            await self._clock.sleep_until(next_frame)
            finished = {gen for gen, _, _ in pieces}
            for gen in sorted(finished):
                if gen not in self._chunks_of:
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
                self._count(chunk.gen, -1)
        self._queued_bytes -= self._frame_bytes - need
        self._played_frame.set()
        frame = b"".join(parts)
        return frame + b"\x00" * need, pieces
