"""The asyncio shell that owns one conversation.

It feeds the pure engine, carries out the effects through the plugins (LLM streams, TTS
workers, playout), keeps the engine's timers, and hands every sequenced event to its
subscribers in `seq` order. The engine is only ever called from the event loop thread,
one input at a time, so its effects apply in the order they were decided.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from openreplica.engine import ConversationEngine, EngineSettings, TurnDetector, TurnStats
from openreplica.engine import io as e
from openreplica.plugins.audio import resample
from openreplica.plugins.base import LLM, TTS, ASRModel, EndOfTurnModel, PluginError, VADModel
from openreplica.plugins.perception import PerceptionEngine
from openreplica.protocol import (
    AnyInteraction,
    ErrorEvent,
    ErrorProps,
    Event,
    Sequencer,
    encode,
)
from openreplica.runtime.camera import camera_frames
from openreplica.runtime.clock import Clock
from openreplica.runtime.llm_bridge import chat_messages, stream_generation
from openreplica.runtime.perception import PerceptionLayer
from openreplica.runtime.playout import AudioSink, Playout
from openreplica.runtime.voice import VoiceInput, VoiceSettings

log = logging.getLogger(__name__)

#: called with each broadcast event and its encoded bytes (encoded once for all)
Listener = Callable[[Event, bytes], None]
#: called with a `system.error` meant for one sender only
Reply = Callable[[ErrorEvent, bytes], None]


class VoiceInputLike(Protocol):
    def push(self, pcm: bytes, sample_rate: int, channels: int) -> None: ...

    def end_of_stream(self) -> None: ...

    async def aclose(self) -> None: ...


@dataclass
class RuntimePlugins:
    tts: TTS
    llm: LLM | None = None
    asr: ASRModel | None = None
    vad: VADModel | None = None
    #: the end-of-turn model; with it (and ears) the model decides when a pause ends a
    #: turn, without it a fixed silence does
    turn: EndOfTurnModel | None = None
    #: per conversation; None = perception off (see runtime/perception.py)
    perception: PerceptionEngine | None = None


class ConversationRuntime:
    def __init__(
        self,
        conversation_id: str,
        settings: EngineSettings,
        plugins: RuntimePlugins,
        clock: Clock,
        *,
        sequencer: Sequencer | None = None,
        new_inference_id: Callable[[], str] | None = None,
        voice: VoiceSettings | None = None,
    ) -> None:
        self.conversation_id = conversation_id
        listens = plugins.vad is not None and plugins.asr is not None
        detector: TurnDetector = "smart_turn" if listens and plugins.turn is not None else "silence"
        settings = replace(settings, turn_taking=replace(settings.turn_taking, detector=detector))
        self.settings = settings
        self.plugins = plugins
        self.clock = clock
        self.sequencer = sequencer or Sequencer(conversation_id)
        self.engine = ConversationEngine(
            conversation_id, settings, new_inference_id or (lambda: uuid.uuid4().hex[:16])
        )
        self.playout = Playout(
            clock,
            settings.output_sample_rate,
            on_played=lambda gen, seg, n: self.feed(e.AudioPlayed(gen, seg, n)),
            on_drained=lambda gen: self.feed(e.PlayoutDrained(gen)),
        )
        self._listeners: list[Listener] = []
        self._llm_tasks: dict[int, asyncio.Task[None]] = {}
        self._tts_queues: dict[int, asyncio.Queue[tuple[int, str] | None]] = {}
        self._tts_tasks: dict[int, asyncio.Task[None]] = {}
        self._timer_task: asyncio.Task[None] | None = None
        self._timer_changed = asyncio.Event()
        self._pending: list[e.EngineInput] = []
        self._feeding = False
        self._reply: Reply | None = None
        self._closed = False
        # The voice-input path (VAD -> speech edges -> ASR), when there are ears.
        self._voice: VoiceInputLike | None = None
        if plugins.vad is not None and plugins.asr is not None:
            self._voice = VoiceInput(self, plugins.vad, plugins.asr, voice, plugins.turn)
        # Perception looks at the camera frames transports push to `camera_frames(self)`.
        self._perception: PerceptionLayer | None = None
        if plugins.perception is not None:
            self._perception = PerceptionLayer(self, plugins.perception, camera_frames(self), clock)
            self.subscribe(self._perception.on_event)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """The replica joins: `system.replica_joined`, then the greeting."""
        self.playout.start()
        self._timer_task = asyncio.create_task(self._run_timers(), name="engine-timers")
        if self._perception is not None:
            self._perception.start()
        self._apply(self.engine.start(self.clock.now()))

    async def shutdown(self, reason: str) -> None:
        """Cut any speech, emit `system.shutdown` (the last event) and stop every task."""
        if self._closed:
            return
        if self._perception is not None:  # the analysis comes before system.shutdown
            await self._perception.finish()
            if self._closed:
                return
        self._apply(self.engine.shutdown(reason, self.clock.now()))
        self._closed = True
        tasks = [*self._llm_tasks.values(), *self._tts_tasks.values()]
        if self._timer_task is not None:
            tasks.append(self._timer_task)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.playout.aclose()
        if self._voice is not None:
            await self._voice.aclose()
        if self._perception is not None:
            await self._perception.aclose()

    @property
    def ended(self) -> bool:
        return self._closed

    @property
    def turn_stats(self) -> TurnStats:
        """How user turns ended (model or silence, total wait) and how many preemptive
        replies were started, used and wasted."""
        return self.engine.turn_stats

    @property
    def perception(self) -> PerceptionLayer | None:
        """The perception layer, when `plugins.perception` is set."""
        return self._perception

    @property
    def voice(self) -> VoiceInput | None:
        """The voice-input path, when this conversation listens (`plugins.vad` + `.asr`)."""
        return self._voice if isinstance(self._voice, VoiceInput) else None

    # ------------------------------------------------------------------ subscribers

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def replay(self, after_seq: int) -> list[Event]:
        return self.sequencer.log.replay(after_seq)

    def set_audio_sink(self, sink: AudioSink | None) -> None:
        self.playout.sink = sink

    def push_user_audio(self, pcm: bytes, sample_rate: int, channels: int = 1) -> None:
        """The user's microphone (16-bit PCM, any rate, mono or interleaved stereo) from
        any transport. Goes through VAD, turn-taking and ASR when the conversation has
        them (`RuntimePlugins.vad` and `.asr`); otherwise it is not listened to."""
        if self._voice is not None and not self._closed:
            self._voice.push(pcm, sample_rate, channels)

    def end_user_audio(self) -> None:
        """The user's microphone stopped (muted, track ended, connection gone): speech in
        progress ends here, so the turn can still be committed."""
        if self._voice is not None and not self._closed:
            self._voice.end_of_stream()

    # ------------------------------------------------------------------ inputs

    def submit(self, interaction: AnyInteraction, reply: Reply | None = None) -> None:
        """Hand an accepted interaction to the engine; errors for it go to `reply`."""
        self._reply = reply
        try:
            self.feed(e.InteractionReceived(interaction))
        finally:
            self._reply = None

    def feed(self, item: e.EngineInput) -> None:
        """Feed one input to the engine (re-entrant calls are queued, not nested)."""
        if self._closed:
            return
        self._pending.append(item)
        if self._feeding:
            return
        self._feeding = True
        try:
            while self._pending:
                self._apply(self.engine.handle(self._pending.pop(0), self.clock.now()))
        finally:
            self._feeding = False

    def report_error(self, code: str, message: str) -> None:
        """A plugin failure outside the engine's generations (e.g. `asr_unavailable`):
        a `system.error` to every connection; the conversation goes on."""
        if not self._closed:
            self._send_error(e.SendError(code, message, to_sender=False))

    # ------------------------------------------------------------------ effects

    def _apply(self, effects: list[e.Effect]) -> None:
        for effect in effects:
            match effect:
                case e.Emit(event):
                    self._publish(self.sequencer.stamp(event, self.clock.now()))
                case e.SendError():
                    self._send_error(effect)
                case e.StartGeneration():
                    self._start_llm(effect)
                case e.CancelGeneration(gen):
                    self._cancel(gen)
                case e.Synthesize(gen, segment, text):
                    self._tts_queue(gen).put_nowait((segment, text))
                case e.Play(gen, segment, pcm, rate):
                    out_rate = self.settings.output_sample_rate
                    audio = pcm if rate == out_rate else resample(pcm, rate, out_rate)
                    self.playout.enqueue(gen, segment, audio)
                case e.StopPlayout(gen):
                    self.playout.stop(gen)
        self._close_idle_tts_workers()
        self._timer_changed.set()

    def _close_idle_tts_workers(self) -> None:
        """A generation that is no longer speaking needs no more synthesis."""
        live = self.engine.live_generations
        for gen, queue in list(self._tts_queues.items()):
            if gen not in live:
                queue.put_nowait(None)

    def _publish(self, event: Event) -> None:
        data = encode(event)
        for listener in list(self._listeners):
            try:
                listener(event, data)
            except Exception:  # one broken subscriber must not stop the conversation
                log.exception("event listener failed for %s", self.conversation_id)

    def _send_error(self, effect: e.SendError) -> None:
        error = ErrorEvent(
            conversation_id=self.conversation_id,
            timestamp=self.clock.now(),
            properties=ErrorProps(
                code=effect.code, message=effect.message, event_type=effect.event_type
            ),
        )
        if effect.to_sender:
            if self._reply is not None:
                self._reply(error, encode(error))
            return
        log.warning("%s: %s: %s", self.conversation_id, effect.code, effect.message)
        self._publish(error)

    # ------------------------------------------------------------------ LLM and TTS

    def _start_llm(self, effect: e.StartGeneration) -> None:
        llm = self.plugins.llm
        if llm is None:
            self.feed(
                e.LLMFailed(
                    effect.gen,
                    "no LLM is configured: set OPENREPLICA_LLM_BASE_URL (and _MODEL) or "
                    "the persona's layers.llm",
                )
            )
            return
        task = asyncio.create_task(
            stream_generation(
                llm, effect.gen, chat_messages(effect.messages), effect.tools, self.feed
            ),
            name=f"llm-{effect.gen}",
        )
        self._llm_tasks[effect.gen] = task
        task.add_done_callback(lambda _: self._llm_tasks.pop(effect.gen, None))

    def _tts_queue(self, gen: int) -> asyncio.Queue[tuple[int, str] | None]:
        queue = self._tts_queues.get(gen)
        if queue is None:
            queue = self._tts_queues[gen] = asyncio.Queue()
            task = asyncio.create_task(self._synthesize(gen, queue), name=f"tts-{gen}")
            self._tts_tasks[gen] = task
        return queue

    async def _synthesize(self, gen: int, queue: asyncio.Queue[tuple[int, str] | None]) -> None:
        """Segments of one generation are synthesised in order, one at a time."""
        try:
            while True:
                item = await queue.get()
                if item is None:
                    return
                segment, text = item
                try:
                    async for chunk in self.plugins.tts.synthesize(text):
                        self.feed(e.SpeechAudio(gen, segment, chunk.pcm, chunk.sample_rate))
                    self.feed(e.SpeechSegmentDone(gen, segment))
                except PluginError as exc:
                    self.feed(e.SpeechFailed(gen, segment, str(exc)))
                except Exception as exc:
                    log.exception("TTS failed")
                    self.feed(e.SpeechFailed(gen, segment, f"TTS failed: {exc!r}"))
        finally:
            self._tts_queues.pop(gen, None)
            self._tts_tasks.pop(gen, None)

    def _cancel(self, gen: int) -> None:
        for tasks in (self._llm_tasks, self._tts_tasks):
            task = tasks.get(gen)
            if task is not None:
                task.cancel()

    # ------------------------------------------------------------------ timers

    async def _run_timers(self) -> None:
        """Sleep until the engine's next deadline (re-planned whenever it may change)."""
        while True:
            self._timer_changed.clear()
            deadline = self.engine.next_deadline()
            if deadline is None:
                await self._timer_changed.wait()
                continue
            sleeper = asyncio.create_task(self.clock.sleep_until(deadline))
            changed = asyncio.create_task(self._timer_changed.wait())
            done, pending = await asyncio.wait(
                {sleeper, changed}, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
            if sleeper in done:
                self._apply(self.engine.fire_timers(self.clock.now()))
