"""The end-of-turn model beside the VAD: at each end of speech, score the turn so far.

`TurnScorer` keeps the last 8 s of the user's 16 kHz audio (what the model looks at).
At every `UserSpeechEnded` it takes the turn's audio (from half a second before the
turn's first speech, up to the frame that confirmed the pause), scores it with the model
in a worker thread (10-20 ms of CPU that must not block the event loop) and feeds
`TurnScored` to the engine. A turn, for this purpose, is the speech since the last
silence longer than `turn_gap` (a committed turn is always followed by one). A model
failure feeds a None probability: the fixed silence then decides.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

from openreplica.engine import io as e
from openreplica.plugins.base import EndOfTurnModel

__all__ = ["TurnScorer"]

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
#: the model looks at the last 8 s
WINDOW = 8.0

FeedFn = Callable[[e.EngineInput], None]


class TurnScorer:
    def __init__(
        self,
        model: EndOfTurnModel,
        feed: FeedFn,
        frame_duration: float,
        *,
        preroll: float = 0.5,
        turn_gap: float = 3.0,
    ) -> None:
        self._model = model
        self._feed = feed
        self._frame_duration = frame_duration
        self._preroll = preroll
        self._turn_gap = turn_gap
        self._frames: deque[tuple[float, bytes]] = deque(maxlen=int(WINDOW / frame_duration) + 2)
        self._turn_start = 0.0
        self._last_end: float | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()  # one decision at a time, in order

    def frame(self, start: float, pcm: bytes) -> None:
        """Every analysed 16 kHz frame, speech or not, with its media time."""
        self._frames.append((start, pcm))

    def speech_started(self, media_time: float) -> None:
        if self._last_end is None or media_time - self._last_end > self._turn_gap:
            self._turn_start = media_time - self._preroll

    def speech_ended(self, speech_end: float) -> None:
        self._last_end = speech_end
        audio = b"".join(pcm for start, pcm in self._frames if start >= self._turn_start)
        task = asyncio.get_running_loop().create_task(self._score(speech_end, audio))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _score(self, speech_end: float, audio: bytes) -> None:
        async with self._lock:
            try:
                probability: float | None = await asyncio.to_thread(
                    self._model.completion_probability, audio
                )
            except Exception:
                log.exception("the end-of-turn model %s failed", self._model.name)
                probability = None
        self._feed(e.TurnScored(speech_end, probability))

    async def drain(self) -> None:
        """Wait for the decisions under way."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
