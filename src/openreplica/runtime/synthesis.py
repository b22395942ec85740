"""Text to speech for one conversation: a worker task per generation with text to speak.

The segments of a generation are synthesised in order, one at a time, and only while
no more than `ahead` seconds of speech wait to be played (backpressure): a long text
costs a bounded amount of memory however long it is, and an interruption wastes little.

A worker is released on every path: its generation stopped speaking, it was cancelled
(even before its first step, when its coroutine never runs and so no `finally` of its
own would), or the conversation closed. So nothing outlives its generation and the cost
of each engine step does not grow with the conversation's history.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection

from openreplica.engine import io as e
from openreplica.plugins.base import TTS, AudioChunk, PluginError
from openreplica.runtime.guard import Spawn, create_task
from openreplica.runtime.observer import NULL_OBSERVER, RuntimeObserver

__all__ = ["SpeechWorkers"]

log = logging.getLogger(__name__)

#: waits until at most this many seconds of audio are queued for playout
WaitForRoom = Callable[[float], Awaitable[None]]
_Segment = tuple[int, str]


class SpeechWorkers:
    def __init__(
        self,
        tts: TTS,
        feed: Callable[[e.EngineInput], None],
        wait_for_room: WaitForRoom,
        ahead: float,
        *,
        spawn: Spawn = create_task,
        observer: RuntimeObserver = NULL_OBSERVER,
        now: Callable[[], float] = lambda: 0.0,
        on_audio: Callable[[int, int, AudioChunk], None] = lambda gen, segment, chunk: None,
    ) -> None:
        """`observer` hears when each segment's synthesis starts, first sounds and ends,
        at times from `now` (the runtime's clock)."""
        self._tts = tts
        self._observer = observer
        self._now = now
        #: told of each synthesised chunk before the engine is (visemes ride on it)
        self._on_audio = on_audio
        self._spawn = spawn
        self._feed = feed
        self._wait_for_room = wait_for_room
        self._ahead = ahead
        #: generations that may still be given segments
        self._queues: dict[int, asyncio.Queue[_Segment | None]] = {}
        #: every worker not finished yet (retired ones finish their last segment)
        self._tasks: dict[int, asyncio.Task[None]] = {}
        #: generations whose worker has called the TTS (its first segment is under way)
        self._began: set[int] = set()
        #: set whenever a worker calls the TTS (see `began`)
        self.progress = asyncio.Event()

    @property
    def workers(self) -> int:
        """Workers alive (for tests and diagnostics)."""
        return len(self._tasks)

    def synthesize(self, gen: int, segment: int, text: str) -> None:
        queue = self._queues.get(gen)
        if queue is None:
            queue = self._queues[gen] = asyncio.Queue()
            task = self._spawn(self._work(gen, queue), f"tts-{gen}")
            self._tasks[gen] = task
            # A done callback runs however the task ends, cancelled before start included.
            task.add_done_callback(lambda done: self._forget(gen, done))
        queue.put_nowait((segment, text))

    def began(self, gen: int) -> bool:
        """The TTS was called for this generation (it is synthesising, or was)."""
        return gen in self._began

    def cancel(self, gen: int) -> None:
        """Stop this generation's synthesis now."""
        self._queues.pop(gen, None)
        self._began.discard(gen)
        task = self._tasks.pop(gen, None)
        if task is not None:
            task.cancel()

    def retire_except(self, live: Collection[int]) -> None:
        """Generations not in `live` get no more text: their workers end after what they
        were given. Visits only the generations still taking text."""
        for gen in [g for g in self._queues if g not in live]:
            self._queues.pop(gen).put_nowait(None)

    async def aclose(self) -> None:
        tasks = list(self._tasks.values())
        self._queues.clear()
        self._tasks.clear()
        self._began.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _forget(self, gen: int, task: asyncio.Task[None]) -> None:
        if self._tasks.get(gen) is task:
            del self._tasks[gen]
            self._queues.pop(gen, None)
            self._began.discard(gen)

    async def _work(self, gen: int, queue: asyncio.Queue[_Segment | None]) -> None:
        while (item := await queue.get()) is not None:
            segment, text = item
            await self._wait_for_room(self._ahead)
            self._observer.tts_started(gen, segment, self._now())
            self._began.add(gen)
            self.progress.set()
            error: str | None = None
            first = True
            try:
                async for chunk in self._tts.synthesize(text):
                    if first:
                        first = False
                        self._observer.tts_first_audio(gen, segment, self._now())
                    self._on_audio(gen, segment, chunk)
                    self._feed(e.SpeechAudio(gen, segment, chunk.pcm, chunk.sample_rate))
                    await self._wait_for_room(self._ahead)
                self._feed(e.SpeechSegmentDone(gen, segment))
            except PluginError as exc:
                error = str(exc)
                self._feed(e.SpeechFailed(gen, segment, error))
            except Exception as exc:
                log.exception("TTS failed")
                error = f"TTS failed: {exc!r}"
                self._feed(e.SpeechFailed(gen, segment, error))
            finally:
                self._observer.tts_ended(gen, segment, self._now(), error)
