"""The perception layer of one conversation: looks at the camera off the audio path.

    camera ring (transports push frames)        runtime events
        | every `sample_interval` s,                | user.stopped_speaking -> look now
        | and when the user stops speaking          | user utterance -> audio tools
        v                                           v
    latest frame -> layer ring (`ring_size`) -> one worker thread: engine.observe(...)
        -> VisualContextUpdated / PerceptionToolCallDetected (+ JPEG frames) -> engine
    shutdown -> engine.analysis() (within `analysis_timeout`) -> PerceptionAnalysisReady

The engine runs in a single worker thread of its own, one call at a time; the event loop
only ever waits on it asynchronously, so perception never delays speech. Looks do not
pile up: while one is running, later requests collapse into one. A failing, hanging or
slow engine becomes a `system.error` `perception_unavailable` (once per outage) and the
conversation goes on; the sampling continues and recovers when the engine does.

Between the commit of a user turn and the reply's first audio (at most `REPLY_WINDOW`
seconds) no new engine call starts: the CPU goes to the LLM and TTS when latency matters
most. The look for that turn was taken when the user stopped speaking, before the commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from openreplica.engine import io as e
from openreplica.plugins.base import PluginError
from openreplica.plugins.perception import Image, Observation, PerceptionEngine, SpeechFeatures
from openreplica.plugins.perception.frames import jpeg_frames
from openreplica.protocol import (
    ErrorCode,
    Event,
    ReplicaStartedSpeaking,
    StoppedSpeaking,
    UserStoppedSpeaking,
    Utterance,
)
from openreplica.runtime.camera import CameraFrames
from openreplica.runtime.clock import Clock

__all__ = ["PerceptionLayer", "PerceptionTarget"]

log = logging.getLogger(__name__)

#: how much nicer (lower priority) than the event loop the worker thread runs (Linux)
WORKER_NICE = 10
#: seconds after a user turn is committed during which no new engine call starts, unless
#: the reply's first audio comes sooner
REPLY_WINDOW = 2.0
#: bytes of a perception tool call event besides its frames and arguments (envelope,
#: property names, base64 quoting), with a generous margin
_EVENT_OVERHEAD = 1024

T = TypeVar("T")


class PerceptionTarget(Protocol):
    """What the layer talks to (`ConversationRuntime`)."""

    def feed(self, item: e.EngineInput) -> None: ...

    def report_error(self, code: ErrorCode, message: str) -> None: ...

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]: ...


class PerceptionLayer:
    def __init__(
        self,
        target: PerceptionTarget,
        engine: PerceptionEngine,
        camera: CameraFrames,
        clock: Clock,
    ) -> None:
        self.engine = engine
        self.config = engine.config
        self.camera = camera
        self._target = target
        self._clock = clock
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="perception", initializer=_lower_priority
        )
        #: frames this layer looked at, newest last
        self.ring: deque[Image] = deque(maxlen=self.config.ring_size)
        self._last_frame_at: float | None = None
        self._frames_seen = 0  # `camera.total` when the layer last took a frame
        self._look_wanted = False
        self._audio_jobs: deque[tuple[str, SpeechFeatures]] = deque(maxlen=8)
        self._speech = (0.0, 0)  # seconds of user speech, segments, since the last turn
        self._visual_context = ""
        self._failing = False
        self._closing = False
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._tasks: list[asyncio.Task[None]] = []
        self._stuck: asyncio.Future[Any] | None = None
        self._finishing: asyncio.Future[None] | None = None
        self._hold_until: float | None = None
        #: how many looks and audio decisions the engine completed (for tests and logs)
        self.looks = 0
        self.audio_decisions = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._tasks = [
            self._target.spawn(self._sample(), "perception-sampler"),
            self._target.spawn(self._work(), "perception-worker"),
        ]

    async def finish(self) -> None:
        """The end-of-call analysis, fed to the engine once (before `system.shutdown`).

        Waits at most `analysis_timeout` on the clock; a failed or late analysis is
        reported as `perception_unavailable` and replaced by a short fallback text.
        Concurrent callers all wait for the same analysis.
        """
        if self._finishing is None:
            self._finishing = asyncio.ensure_future(self._finish())
        await asyncio.shield(self._finishing)

    async def _finish(self) -> None:
        self._closing = True
        self._audio_jobs.clear()
        self._look_wanted = False
        try:
            text = await self._call(self.engine.analysis, self.config.analysis_timeout)
        except PluginError as exc:
            self._fail(str(exc))
            text = f"No perception analysis is available: {exc}"
        self._target.feed(e.PerceptionAnalysisReady(text))

    async def aclose(self) -> None:
        self._closing = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # Runs after any call still in the worker thread; nobody waits for it.
        with contextlib.suppress(RuntimeError):
            self._executor.submit(self.engine.close)
        self._executor.shutdown(wait=False)

    async def idle(self) -> None:
        """Wait until the worker has nothing it can run now: every look and decision asked
        for has been fed to the engine, or waits for a reply window to pass (for tests: the
        worker thread runs in real time even on a virtual clock)."""
        while not self._idle.is_set() or self._wake.is_set():
            await self._idle.wait()
            await asyncio.sleep(0)

    @property
    def visual_context(self) -> str:
        """The latest visual context fed to the engine ("" = none yet)."""
        return self._visual_context

    # ------------------------------------------------------------------ inputs

    def on_event(self, event: Event, _data: bytes = b"") -> None:
        """Runtime listener: look when the user stops speaking; audio tools per turn."""
        if self._closing:
            return
        if isinstance(event, UserStoppedSpeaking):
            self.look_now()
        elif isinstance(event, StoppedSpeaking) and event.properties.role == "user":
            seconds, segments = self._speech
            self._speech = (seconds + event.properties.duration, segments + 1)
        elif isinstance(event, Utterance) and event.properties.role == "user":
            seconds, segments = self._speech
            self._speech = (0.0, 0)
            self._hold_until = self._clock.now() + REPLY_WINDOW
            if self.config.audio_tools:
                features = SpeechFeatures(seconds, segments, typed=segments == 0)
                self._audio_jobs.append((event.properties.speech, features))
                self._wake_worker()
        elif isinstance(event, ReplicaStartedSpeaking) and self._hold_until is not None:
            self._hold_until = None  # the reply is playing: perception may work again
            self._wake_worker()

    def look_now(self) -> None:
        """Look at the newest camera frame as soon as the worker is free."""
        if self._take_latest():
            self._look_wanted = True
            self._wake_worker()

    def _take_latest(self) -> bool:
        latest = self.camera.latest()
        if latest is None or self.camera.total == self._frames_seen:
            return False
        self._frames_seen = self.camera.total
        self._last_frame_at = latest.timestamp
        self.ring.append(latest.image)
        return True

    def _wake_worker(self) -> None:
        self._idle.clear()
        self._wake.set()

    # ------------------------------------------------------------------ tasks

    async def _sample(self) -> None:
        interval = self.config.sample_interval
        next_at = self._clock.now()
        while not self._closing:
            await self._clock.sleep_until(next_at)
            next_at = max(next_at + interval, self._clock.now())
            self.look_now()
            if self._audio_jobs:  # held back by a reply window that has now passed
                self._wake_worker()

    async def _work(self) -> None:
        while True:
            if not self._wake.is_set():
                self._idle.set()  # nothing runs (work may wait for a reply window)
            await self._wake.wait()
            self._wake.clear()
            while not self._closing and not self._held():
                if self._audio_jobs:
                    await self._decide_audio(*self._audio_jobs.popleft())
                elif self._look_wanted:
                    self._look_wanted = False
                    await self._look()
                else:
                    break

    def _held(self) -> bool:
        """A reply is about to start: leave the CPU to it (the sampler wakes us later)."""
        if self._hold_until is not None and self._clock.now() >= self._hold_until:
            self._hold_until = None
        return self._hold_until is not None

    async def _look(self) -> None:
        images = list(self.ring)[-self.config.frames_per_look :]
        at = self._last_frame_at or self._clock.now()
        try:
            observation, frames = await self._call(
                lambda: self._observe(images, at), 2 * self.config.timeout
            )
        except PluginError as exc:
            self._fail(str(exc))
            return
        self._recovered()
        self.looks += 1
        if self._closing:
            return
        if observation.visual_context != self._visual_context:
            self._visual_context = observation.visual_context
            self._target.feed(e.VisualContextUpdated(observation.visual_context))
        for call in observation.tool_calls:
            self._target.feed(
                e.PerceptionToolCallDetected("vision", call.name, call.arguments, tuple(frames))
            )

    def _observe(self, images: list[Image], at: float) -> tuple[Observation, list[str]]:
        """In the worker thread: look, and encode the frames a tool call will carry."""
        observation = self.engine.observe(images, at)
        frames: list[str] = []
        if observation.tool_calls:
            args = max(len(json.dumps(c.arguments)) for c in observation.tool_calls)
            budget = self.config.max_event_bytes - _EVENT_OVERHEAD - args
            frames = jpeg_frames(images, budget)
        return observation, frames

    async def _decide_audio(self, transcript: str, features: SpeechFeatures) -> None:
        try:
            calls = await self._call(
                lambda: self.engine.audio_tools(transcript, features), self.config.timeout
            )
        except PluginError as exc:
            self._fail(str(exc))
            return
        self._recovered()
        self.audio_decisions += 1
        for call in calls:
            self._target.feed(e.PerceptionToolCallDetected("audio", call.name, call.arguments))

    # ------------------------------------------------------------------ the worker thread

    async def _call(self, fn: Callable[[], T], timeout: float) -> T:
        """Run `fn` in the worker thread; raise PluginError on failure or after `timeout`
        seconds on the clock (the thread keeps going: a late result is dropped)."""
        if self._stuck is not None and not self._stuck.done():
            # Queueing behind a call that already timed out would only time out again.
            raise PluginError(f"the {self.engine.name} perception engine is stuck")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.run_in_executor(self._executor, fn)
        timer: asyncio.Future[Any] = asyncio.ensure_future(
            self._clock.sleep_until(self._clock.now() + timeout)
        )
        try:
            await asyncio.wait([future, timer], return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
        if not future.done():
            self._stuck = future
            future.add_done_callback(_consume)
            raise PluginError(
                f"the {self.engine.name} perception engine did not answer within {timeout:g} s"
            )
        exc = future.exception()
        if isinstance(exc, PluginError):
            raise exc
        if exc is not None:
            log.error("perception engine failed", exc_info=exc)
            raise PluginError(f"the {self.engine.name} perception engine failed: {exc!r}")
        return future.result()

    def _fail(self, message: str) -> None:
        if not self._failing:
            self._failing = True
            self._target.report_error(ErrorCode.PERCEPTION_UNAVAILABLE, message)
        else:
            log.info("perception still unavailable: %s", message)

    def _recovered(self) -> None:
        self._failing = False


def _lower_priority() -> None:
    """In the worker thread: a higher nice value (Linux: per thread), so under CPU
    contention the event loop and the speech plugins win. Threads the engine's libraries
    start from here (OpenCV's pool, on first use) inherit it."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or not allowed
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICE)


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # a late failure was already reported as a timeout
