"""Media for one WebRTC participant: the replica's audio and video tracks, and the
consumers of the user's microphone and camera.

Replica audio: the runtime's playout writes each 20 ms frame of speech into a
`SpeechFeed` (an `AudioSink`) as it is played; the audio track, paced by aiortc's sender,
takes one 48 kHz frame per 20 ms and sends silence when there is none. Nothing is
buffered beyond a few frames, so an interrupt is heard within about one frame.

Replica video: a `ReplicaVideoTrack` renders the avatar at `fps` with the mouth shaped
by the audio frames the audio track has just sent: by their visemes when the TTS gave
them (the runtime writes each played frame's viseme to the feed, `write_viseme`, right
after its audio), else by their peak level (`MouthSmoother`). When the audio stops, the
next video frame has the mouth at rest. After an interrupt (`SpeechFeed.rest`) the audio
still queued (and the resampler's tail) plays out, unclipped, with the mouth at rest.

Tracks pace themselves on the runtime's `Clock` (the system clock in a server).

When the call sends Opus (every browser offers it first), the audio track encodes its
frames itself, on the event loop (`ReplicaAudioTrack.encode_opus`), and hands aiortc
packets: aiortc would otherwise encode each 20 ms frame in the loop's default thread
pool, and that hop (a task submitted, a thread woken, the GIL handed back and forth, the
result posted back to the loop) cost more CPU than the encoding itself (bench/cluster.py
counts the worker's threads apart from its event loop).
"""

from __future__ import annotations

import asyncio
import fractions
import logging
from collections import deque
from collections.abc import Callable

import av
import cv2
import numpy as np
from aiortc.codecs.opus import OpusEncoder
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.stream import Stream
from numpy.typing import NDArray

from openreplica.plugins.audio import Resampler
from openreplica.plugins.avatar import MouthSmoother, mouth_open_from_pcm
from openreplica.plugins.avatar.lipsync import VisemeSmoother, openness
from openreplica.plugins.base import AvatarStream
from openreplica.plugins.visemes import Viseme
from openreplica.runtime import Clock

__all__ = [
    "AUDIO_FRAME_SAMPLES",
    "AUDIO_RATE",
    "ReplicaAudioTrack",
    "ReplicaVideoTrack",
    "SpeechFeed",
    "consume_user_audio",
    "consume_user_video",
]

log = logging.getLogger(__name__)

AUDIO_RATE = 48_000
AUDIO_FRAME_SAMPLES = 960  # 20 ms
_AUDIO_FRAME_BYTES = 2 * AUDIO_FRAME_SAMPLES
_AUDIO_TIME_BASE = fractions.Fraction(1, AUDIO_RATE)
_VIDEO_CLOCK = 90_000
_VIDEO_TIME_BASE = fractions.Fraction(1, _VIDEO_CLOCK)
#: a track this far behind its schedule (a stalled loop) restarts its timeline instead of
#: sending a burst of frames to catch up
_MAX_LAG = 0.25


class SpeechFeed:
    """The playout's audio sink for one peer: replica speech, resampled to 48 kHz mono and
    cut into 20 ms frames for the audio track.

    Bounded: if the track stops reading, old frames are dropped rather than letting
    latency grow. A gap of two frame periods with no write is the end of an utterance:
    the resampler's tail is flushed then, so no audio is held back until the next one.
    """

    def __init__(self, max_frames: int = 10) -> None:
        self._frames: deque[bytes] = deque()
        #: each frame's viseme (None: the audio came without visemes)
        self._labels: deque[Viseme | None] = deque()
        #: frames cut by the latest `write`, which its `write_viseme` labels
        self._fresh = 0
        #: the label of the resampler's tail, flushed after the audio stops: "rest" once
        #: playout was stopped (`rest`) until new speech is written, else None (the
        #: tail shows its level, like any audio without visemes)
        self._tail_label: Viseme | None = None
        #: visemes of the frames sent since the video track last asked
        self._sent_visemes: list[Viseme] = []
        self._max_frames = max_frames
        self._pending = bytearray()
        self._resampler: Resampler | None = None
        self._idle_pops = 0
        self._primed = False
        #: peak mouth level of the frames sent since the video track last asked
        self._peak = 0.0
        #: 48 kHz samples of speech handed to the audio track so far
        self.samples_sent = 0

    def write(self, pcm: bytes, sample_rate: int) -> None:
        """`AudioSink`: one played frame of 16-bit mono PCM at `sample_rate`."""
        if self._resampler is None or self._resampler.from_rate != sample_rate:
            self._resampler = Resampler(sample_rate, AUDIO_RATE)
        self._pending += self._resampler.process(pcm)
        self._idle_pops = 0
        self._tail_label = None
        self._fresh = self._cut_frames()

    def write_viseme(self, viseme: Viseme) -> None:
        """`VisemeSink`: the viseme of the frame just written."""
        for i in range(1, min(self._fresh, len(self._labels)) + 1):
            self._labels[-i] = viseme

    def rest(self) -> None:
        """`VisemeSink`: interrupted. The few frames of audio still queued here, and the
        resampler's tail flushed after them, are sent (cutting them would click), but the
        face rests from the next video frame until new speech is written."""
        for i in range(len(self._labels)):
            self._labels[i] = "rest"
        self._tail_label = "rest"
        self._sent_visemes = ["rest"] if self._sent_visemes else []

    def _cut_frames(self, label: Viseme | None = None) -> int:
        cut = 0
        while len(self._pending) >= _AUDIO_FRAME_BYTES:
            self._frames.append(bytes(self._pending[:_AUDIO_FRAME_BYTES]))
            self._labels.append(label)
            del self._pending[:_AUDIO_FRAME_BYTES]
            cut += 1
        while len(self._frames) > self._max_frames:
            self._frames.popleft()
            self._labels.popleft()
        return cut

    def _flush_tail(self) -> None:
        if self._resampler is not None:
            self._pending += self._resampler.flush()
        if self._pending:
            pad = -len(self._pending) % _AUDIO_FRAME_BYTES
            self._pending += bytes(pad)
            self._cut_frames(self._tail_label)

    def pop(self) -> bytes | None:
        """The next 20 ms frame of speech, or None for silence (called every 20 ms)."""
        if not self._frames:
            self._idle_pops += 1
            self._primed = False
            if self._idle_pops == 2:
                self._flush_tail()
            if not self._frames:
                self._sent_level(0.0)
                return None
        elif not self._primed and len(self._frames) < 2 and self._idle_pops == 0:
            # The first frame of an utterance waits one period for a second one: a frame
            # of jitter between playout and the track then never splits speech with a gap.
            self._primed = True
            self._sent_level(0.0)
            return None
        self._primed = True
        frame = self._frames.popleft()
        viseme = self._labels.popleft()
        if viseme is not None:
            self._sent_visemes.append(viseme)
        self.samples_sent += AUDIO_FRAME_SAMPLES
        self._sent_level(mouth_open_from_pcm(frame))
        return frame

    def _sent_level(self, level: float) -> None:
        self._peak = max(self._peak, level)

    def take_visemes(self) -> list[Viseme]:
        """Visemes of the audio sent since the previous call (empty: none, or silence)."""
        sent, self._sent_visemes = self._sent_visemes, []
        return sent

    def take_level(self) -> float:
        """Peak mouth level (0..1) of the audio sent since the previous call; 0.0 when
        only silence was sent, so lips close on the first video frame after speech."""
        level, self._peak = self._peak, 0.0
        return level


class _Pacer:
    """Frame pacing on the runtime clock, like aiortc's own tracks."""

    def __init__(self, clock: Clock, period: float) -> None:
        self._clock = clock
        self._period = period
        self._start: float | None = None
        self.index = 0

    async def next(self) -> int:
        now = self._clock.now()
        if self._start is None:
            self._start = now
        else:
            self.index += 1
            due = self._start + self.index * self._period
            if now - due > _MAX_LAG:  # fell far behind: restart the schedule from now
                self._start = now - self.index * self._period
            await self._clock.sleep_until(due)
        return self.index


class ReplicaAudioTrack(MediaStreamTrack):
    """48 kHz mono audio: replica speech from a `SpeechFeed`, silence otherwise."""

    kind = "audio"

    def __init__(self, feed: SpeechFeed, clock: Clock) -> None:
        super().__init__()
        self.feed = feed
        self._pacer = _Pacer(clock, AUDIO_FRAME_SAMPLES / AUDIO_RATE)
        self._silence = bytes(_AUDIO_FRAME_BYTES)
        self.frames_sent = 0
        self._opus: OpusEncoder | None = None
        self._packets: deque[av.Packet[Stream]] = deque()

    def encode_opus(self) -> None:
        """Send Opus packets from now on, encoded here with aiortc's own encoder (same
        settings), instead of frames for aiortc to encode. Only for a call whose
        negotiated audio codec is Opus: aiortc passes packets on as they are."""
        if self._opus is None:
            self._opus = OpusEncoder()

    @property
    def encodes_opus(self) -> bool:
        return self._opus is not None

    async def recv(self) -> av.AudioFrame | av.Packet[Stream]:
        if self._opus is None:
            return await self._frame()
        while not self._packets:  # the encoder may hold a frame back (its resampler)
            payloads, timestamp = self._opus.encode(await self._frame())
            for payload in payloads:  # one per 20 ms frame
                packet = av.Packet(payload)
                packet.pts = timestamp
                packet.time_base = _AUDIO_TIME_BASE
                self._packets.append(packet)
                timestamp += AUDIO_FRAME_SAMPLES
        return self._packets.popleft()

    async def _frame(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        index = await self._pacer.next()
        pcm = self.feed.pop() or self._silence
        frame = av.AudioFrame(format="s16", layout="mono", samples=AUDIO_FRAME_SAMPLES)
        frame.planes[0].update(pcm)
        frame.sample_rate = AUDIO_RATE
        frame.pts = index * AUDIO_FRAME_SAMPLES
        frame.time_base = _AUDIO_TIME_BASE
        self.frames_sent += 1
        return frame


class ReplicaVideoTrack(MediaStreamTrack):
    """The avatar at `fps`, its mouth driven by the speech the audio track sends."""

    kind = "video"

    def __init__(
        self,
        stream: AvatarStream,
        feed: SpeechFeed,
        clock: Clock,
        fps: float = 25.0,
    ) -> None:
        super().__init__()
        if not 1 <= fps <= 60:
            raise ValueError(f"video fps must be 1..60, got {fps}")
        self.stream = stream
        self.feed = feed
        self.fps = fps
        self._pacer = _Pacer(clock, 1.0 / fps)
        self._smoother = MouthSmoother()
        self._visemes = VisemeSmoother(frame_s=1.0 / fps)
        self.frames_sent = 0
        #: mouth opening of the last frame sent (tests and diagnostics)
        self.last_mouth = 0.0
        #: viseme weights of the last frame sent (over `VISEMES`), None: level-driven
        self.last_visemes: np.ndarray | None = None

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        index = await self._pacer.next()
        t = index / self.fps
        rgb = self._render(t)
        # I420 straight from OpenCV: the VP8 encoder takes it as is, no swscale pass.
        yuv = np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420), np.uint8)
        frame = av.VideoFrame.from_ndarray(yuv, "yuv420p")
        frame.pts = round(t * _VIDEO_CLOCK)
        frame.time_base = _VIDEO_TIME_BASE
        self.frames_sent += 1
        return frame

    def _render(self, t: float) -> NDArray[np.uint8]:
        sent = self.feed.take_visemes()
        level = self._smoother.update(self.feed.take_level())
        if not sent and level > 0.0:  # speech without visemes: follow its level
            self.last_visemes = None
            self._visemes.reset()
            self.last_mouth = level
            return np.asarray(self.stream.render(t, level), np.uint8)
        weights = self.last_visemes = self._visemes.update(sent)
        self.last_mouth = mouth = openness(weights)
        render_visemes = getattr(self.stream, "render_visemes", None)
        if render_visemes is not None:  # a face that draws each shape (the photo rig)
            return np.asarray(render_visemes(t, weights), np.uint8)
        return np.asarray(self.stream.render(t, mouth), np.uint8)


async def consume_user_audio(
    track: MediaStreamTrack,
    push: Callable[[bytes, int, int], None],
    ended: Callable[[], None] = lambda: None,
) -> None:
    """The user's microphone: every decoded frame (16-bit, usually 48 kHz stereo) to
    `push(pcm, sample_rate, channels)` until the track ends, then `ended()`."""
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            ended()
            return
        if not isinstance(frame, av.AudioFrame):
            continue
        channels = len(frame.layout.channels)
        if frame.format.name == "s16":
            pcm = frame.to_ndarray().tobytes()
        else:  # planar or float: interleave and convert to int16
            samples = frame.to_ndarray().reshape(channels, -1) if frame.format.is_planar else None
            data = samples.T if samples is not None else frame.to_ndarray().reshape(-1, channels)
            if data.dtype.kind == "f":
                data = np.clip(data * 32768.0, -32768, 32767)
            pcm = np.ascontiguousarray(data).astype("<i2").tobytes()
        push(pcm, frame.sample_rate, channels)


async def consume_user_video(
    track: MediaStreamTrack,
    push: Callable[[np.ndarray, float], None],
    clock: Clock,
    max_fps: float,
) -> None:
    """The user's camera: reads every frame (so none pile up) and hands at most
    `max_fps` of them per second to `push(rgb, timestamp)` as RGB uint8 arrays."""
    interval = 1.0 / max_fps if max_fps > 0 else float("inf")
    last = -float("inf")
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        if not isinstance(frame, av.VideoFrame):
            continue
        now = clock.now()
        if now - last < interval:
            continue
        last = now
        push(frame.to_ndarray(format="rgb24"), now)


async def cancel_tasks(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
