"""The asyncio shell that owns one conversation.

It feeds the pure engine, carries out the effects through the plugins (LLM streams, TTS
workers, playout), keeps the engine's timers, and hands every sequenced event to its
subscribers in `seq` order. The engine is only ever called from the event loop thread,
one input at a time, so its effects apply in the order they were decided.

Every engine call and every worker task runs under the conversation's `Guard`
(runtime/guard.py): a bug ends the conversation with `system.shutdown` (reason
`internal_error`) instead of killing one worker silently. Standalone, the runtime shuts
itself down; the hub passes `on_internal_error` to end it through its own end path.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from typing import Any

from openreplica.engine import ConversationEngine, EngineSettings, TurnDetector, TurnStats
from openreplica.engine import io as e
from openreplica.plugins.base import LLM, TTS, ASRModel, AudioChunk, EndOfTurnModel, VADModel
from openreplica.plugins.perception import PerceptionEngine
from openreplica.plugins.viseme_audio import AudioVisemeModel
from openreplica.protocol import (
    AnyInteraction,
    ErrorCode,
    ErrorEvent,
    Event,
    Sequencer,
    Shutdown,
    ShutdownProps,
    encode,
    error_event,
)
from openreplica.runtime.camera import CameraFrames
from openreplica.runtime.clock import Clock
from openreplica.runtime.echo_visemes import EchoVisemes
from openreplica.runtime.guard import INTERNAL_ERROR, Guard
from openreplica.runtime.llm_bridge import chat_messages, stream_generation
from openreplica.runtime.observer import NULL_OBSERVER, RuntimeObserver
from openreplica.runtime.perception import PerceptionLayer
from openreplica.runtime.playout import AudioSink, Playout
from openreplica.runtime.synthesis import SpeechWorkers
from openreplica.runtime.visemes import VisemeSink, VisemeTrack
from openreplica.runtime.voice import VoiceInput, VoiceSettings

log = logging.getLogger(__name__)

#: called with each broadcast event and its encoded bytes (encoded once for all)
Listener = Callable[[Event, bytes], None]
#: called with a `system.error` meant for one sender only
Reply = Callable[[ErrorEvent, bytes], None]
#: gets the user's audio as pushed (pcm, sample_rate, channels), e.g. a call recording
UserAudioTap = Callable[[bytes, int, int], None]


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
    #: mouth shapes estimated from the sound, for echoed audio (which has no text or
    #: timing); None = such audio shows no visemes and the face follows its level
    visemes_from_audio: AudioVisemeModel | None = None


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
        on_internal_error: Callable[[], None] | None = None,
        observer: RuntimeObserver = NULL_OBSERVER,
    ) -> None:
        """`on_internal_error` is called once when a bug is met (see runtime/guard.py);
        it must end the conversation (default: `shutdown("internal_error")`)."""
        self.conversation_id = conversation_id
        listens = plugins.vad is not None and plugins.asr is not None
        detector: TurnDetector = "smart_turn" if listens and plugins.turn is not None else "silence"
        settings = replace(settings, turn_taking=replace(settings.turn_taking, detector=detector))
        self.settings = settings
        self.plugins = plugins
        self.clock = clock
        #: metrics and traces (runtime/observer.py); times passed are `clock`'s
        self.observer = observer
        self.sequencer = sequencer or Sequencer(conversation_id)
        self._guard = Guard(conversation_id, on_internal_error or self._end_on_internal_error)
        self._ending: asyncio.Task[None] | None = None
        self._shutdown_sent = False
        #: stopped without an end (`halt`): another process goes on with it
        self._halted = False
        self.engine = ConversationEngine(
            conversation_id, settings, new_inference_id or (lambda: uuid.uuid4().hex[:16])
        )
        self.playout = Playout(
            clock,
            settings.output_sample_rate,
            on_played=self._on_played,
            on_drained=self._on_drained,
            spawn=self.spawn,
        )
        self.speech = SpeechWorkers(
            plugins.tts,
            self.feed,
            self.playout.wait_until_queued_at_most,
            settings.limits.tts_ahead,
            spawn=self.spawn,
            observer=observer,
            now=clock.now,
            on_audio=self._on_synthesised,
        )
        #: mouth shapes for the audio played (see runtime/visemes.py), to every speech
        #: listener that takes them
        self.visemes = VisemeTrack(settings.output_sample_rate)
        self._faces: list[VisemeSink] = []
        self._echo_visemes = EchoVisemes(plugins.visemes_from_audio)
        self._listeners: list[Listener] = []
        self.user_audio_taps: list[UserAudioTap] = []
        self._llm_tasks: dict[int, asyncio.Task[None]] = {}
        self._timer_task: asyncio.Task[None] | None = None
        self._timer_changed = asyncio.Event()
        #: set after every engine step (`reply_prepared` re-checks the engine then)
        self._stepped = asyncio.Event()
        self._pending: list[e.EngineInput] = []
        self._feeding = False
        self._reply: Reply | None = None
        # The voice-input path (VAD -> speech edges -> ASR), when there are ears.
        self._voice: VoiceInput | None = None
        if plugins.vad is not None and plugins.asr is not None:
            self._voice = VoiceInput(self, plugins.vad, plugins.asr, voice, plugins.turn)
        #: the user's latest camera frames, pushed by transports, read by perception
        self.camera = CameraFrames()
        # Perception looks at the camera frames transports push to `self.camera`.
        self._perception: PerceptionLayer | None = None
        if plugins.perception is not None:
            self._perception = PerceptionLayer(self, plugins.perception, self.camera, clock)
            self.subscribe(self._perception.on_event)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """The replica joins: `system.replica_joined`, then the greeting."""
        self.playout.start()
        self._timer_task = self.spawn(self._run_timers(), "engine-timers")
        if self._perception is not None:
            self._perception.start()
        with self._guard.watch("starting the conversation"):
            self._apply(self.engine.start(self.clock.now()))

    def resume(
        self,
        turn_idx: int,
        context: str,
        history: tuple[e.ContextMessage, ...],
        closing: Sequence[Event] = (),
    ) -> None:
        """Continue a conversation another process started (a cluster takeover) instead
        of `start`: the engine gets its saved turn index and LLM state, no
        `system.replica_joined` and no greeting; the `closing` events (ending what the
        previous process left half done, e.g. a reply cut by its death) go out first.
        The sequencer must continue from the last `seq`."""
        self.playout.start()
        self._timer_task = self.spawn(self._run_timers(), "engine-timers")
        if self._perception is not None:
            self._perception.start()
        now = self.clock.now()
        for event in closing:
            self._publish(self.sequencer.stamp(event, now))
        with self._guard.watch("resuming the conversation"):
            self._apply(self.engine.resume(now, turn_idx, context, history))

    async def shutdown(self, reason: str) -> None:
        """Cut any speech, emit `system.shutdown` (the last event) and stop every task."""
        if self.ended or self._halted:
            return
        if self._perception is not None:  # the analysis comes before system.shutdown
            await self._perception.finish()
            if self.ended:
                return
        self._end_engine(reason)
        self.observer.closed(self.clock.now())
        await self._stop_work()

    async def _stop_work(self) -> None:
        """Cancel the LLM and timer tasks and close speech, playout, voice and perception."""
        tasks = list(self._llm_tasks.values())
        if self._timer_task is not None:
            tasks.append(self._timer_task)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.speech.aclose()
        await self.playout.aclose()
        if self._voice is not None:
            await self._voice.aclose()
        if self._perception is not None:
            await self._perception.aclose()

    async def halt(self) -> None:
        """Stop here without ending the conversation (a cluster node that stops hands it
        over to another, which `resume`s it): from now on nothing is emitted and no input
        is taken; a reply in progress stops where it was heard, as if the process had
        died there (the next owner ends it as an interruption). Idempotent."""
        if self.ended or self._halted:
            return
        self._halted = True
        await self._stop_work()
        self.observer.closed(self.clock.now())

    @property
    def halted(self) -> bool:
        """`halt` was called: another process goes on with the conversation."""
        return self._halted

    def _end_engine(self, reason: str) -> None:
        """`system.shutdown` from the engine; built here when the engine is not trusted
        (it failed), so the conversation always ends with it."""
        if not self._guard.tripped:
            with self._guard.watch("ending the conversation"):
                self._apply(self.engine.shutdown(reason, self.clock.now()))
        if not self._shutdown_sent:
            props = ShutdownProps(shutdown_reason=reason)
            event = Shutdown(conversation_id=self.conversation_id, properties=props)
            self._publish(self.sequencer.stamp(event, self.clock.now()))

    def _end_on_internal_error(self) -> None:
        if self._ending is None:
            self._ending = asyncio.get_running_loop().create_task(
                self.shutdown(INTERNAL_ERROR), name="runtime-internal-error"
            )

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Start a worker task of this conversation, under its guard."""
        return self._guard.spawn(coro, name)

    @property
    def failed(self) -> bool:
        """A bug was met in this conversation (it is ending with `internal_error`)."""
        return self._guard.tripped

    @property
    def ended(self) -> bool:
        """`system.shutdown` was emitted: nothing more goes in or out. (Usually by the
        engine; after a bug, by the runtime itself, see `_end_engine`.)"""
        return self._shutdown_sent

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
        return self._voice

    # ------------------------------------------------------------------ subscribers

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def replay(self, after_seq: int) -> list[Event]:
        return self.sequencer.log.replay(after_seq)

    def _on_played(self, gen: int, segment: int, samples: int) -> None:
        viseme = self.visemes.played(gen, segment, samples)
        if viseme is not None:
            for face in self._faces:
                face.write_viseme(viseme)
        self.feed(e.AudioPlayed(gen, segment, samples))

    def _on_synthesised(self, gen: int, segment: int, chunk: AudioChunk) -> None:
        """Each synthesised chunk's mouth shapes, timed later by the playout clock."""
        self._echo_visemes.announce(gen, segment)
        self.visemes.add(gen, segment, chunk.visemes, chunk.samples, chunk.sample_rate)

    def _on_drained(self, gen: int) -> None:
        self.visemes.stop(gen)  # all its audio has played: nothing left to time
        self._echo_visemes.forget(gen)
        self.feed(e.PlayoutDrained(gen))

    def add_speech_listener(self, listener: AudioSink) -> None:
        """`listener` hears the replica from now on, beside every other listener (WebRTC
        peers, a call recording): each audio frame as played (the playout's sinks) and,
        when it also takes mouth shapes (a `VisemeSink`: `write_viseme` and `rest`), the
        viseme of each frame right after its audio. The one attachment point for
        whoever hears the replica."""
        self.playout.sinks.append(listener)
        if isinstance(listener, VisemeSink):
            self._faces.append(listener)

    def remove_speech_listener(self, listener: AudioSink) -> None:
        """`listener` hears the replica no more (nothing happens if it did not)."""
        if listener in self.playout.sinks:
            self.playout.sinks.remove(listener)
        if isinstance(listener, VisemeSink) and listener in self._faces:
            self._faces.remove(listener)

    def push_user_audio(self, pcm: bytes, sample_rate: int, channels: int = 1) -> None:
        """The user's microphone (16-bit PCM, any rate, mono or interleaved stereo) from
        any transport. Goes through VAD, turn-taking and ASR when the conversation has
        them (`RuntimePlugins.vad` and `.asr`); otherwise it is not listened to."""
        if self.ended or self._halted:
            return
        for tap in self.user_audio_taps:
            tap(pcm, sample_rate, channels)
        if self._voice is not None:  # stamped: pauses count from the audio's capture
            self._voice.push(pcm, sample_rate, channels, arrived=self.clock.now())

    def end_user_audio(self) -> None:
        """The user's microphone stopped (muted, track ended, connection gone): speech in
        progress ends here, so the turn can still be committed."""
        if self._voice is not None and not (self.ended or self._halted):
            self._voice.end_of_stream()

    async def reply_prepared(self, limit: float) -> None:
        """Return once the reply prepared at this pause (if any) has its first words at
        the TTS, or after `limit` seconds. The voice path waits for this before the
        recogniser's final pass, which holds the event loop and the GIL for ~90 ms: so
        the TTS (onnxruntime, which lets go of the GIL) speaks those words on the other
        core meanwhile instead of starting after it."""
        deadline = self.clock.now() + limit
        while True:
            gen = self.engine.prepared_reply
            if gen is None or self.speech.began(gen) or self.clock.now() >= deadline:
                return
            self._stepped.clear()
            self.speech.progress.clear()
            await _first_done(
                self.clock.sleep_until(deadline),
                self._stepped.wait(),
                self.speech.progress.wait(),
            )

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
        if self.ended or self._halted or self._guard.tripped:
            return
        self._pending.append(item)
        if self._feeding:
            return
        self._feeding = True
        try:
            while self._pending and not self._guard.tripped:
                item = self._pending.pop(0)
                with self._guard.watch(f"handling {type(item).__name__}"):
                    self._apply(self.engine.handle(item, self.clock.now()))
        finally:
            self._feeding = False
            if self._guard.tripped:
                self._pending.clear()

    def report_error(self, code: ErrorCode, message: str) -> None:
        """A plugin failure outside the engine's generations (e.g. `asr_unavailable`):
        a `system.error` to every connection; the conversation goes on."""
        if not (self.ended or self._halted):
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
                    self.speech.synthesize(gen, segment, text)
                case e.Play(gen, segment, pcm, rate):
                    # audio no TTS announced is echoed: its visemes come from the sound
                    marks = self._echo_visemes.marks(gen, segment, pcm, rate)
                    if marks is not None:
                        self.visemes.add(gen, segment, marks, len(pcm) // 2, rate)
                    self.playout.enqueue(gen, segment, pcm, rate)
                case e.StopPlayout(gen):
                    silent_at = self.playout.stop(gen)
                    if silent_at is not None:
                        self.observer.playout_cut(gen, self.clock.now(), silent_at)
                    self.visemes.stop(gen)
                    self._echo_visemes.forget(gen)
                    for face in self._faces:
                        face.rest()
        # A generation that is no longer live (speaking, or a preemptive reply waiting for
        # its turn) needs no more synthesis.
        self.speech.retire_except(self.engine.live_generations)
        self._timer_changed.set()
        self._stepped.set()

    def _publish(self, event: Event) -> None:
        if self._halted:
            return  # another process goes on from the last event published
        if isinstance(event, Shutdown):
            self._shutdown_sent = True
        data = encode(event)
        for listener in list(self._listeners):
            try:
                listener(event, data)
            except Exception:  # one broken subscriber must not stop the conversation
                log.exception("event listener failed for %s", self.conversation_id)
        self.observer.event_sent(event, self.clock.now())  # after delivery: off its path

    def _send_error(self, effect: e.SendError) -> None:
        error = error_event(
            self.conversation_id,
            effect.code,
            effect.message,
            timestamp=self.clock.now(),
            event_type=effect.event_type,
        )
        if effect.to_sender:
            self.observer.interaction_refused(effect.code)
            if self._reply is not None:
                self._reply(error, encode(error))
            return
        log.warning("%s: %s: %s", self.conversation_id, effect.code, effect.message)
        self.observer.plugin_failed(effect.code)
        self._publish(error)

    # ------------------------------------------------------------------ LLM

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
        gen = effect.gen
        self.observer.llm_started(gen, self.clock.now())
        task = self.spawn(
            stream_generation(
                llm, gen, chat_messages(effect.messages), effect.tools, self._observed_feed(gen)
            ),
            f"llm-{gen}",
        )
        self._llm_tasks[gen] = task
        task.add_done_callback(lambda _: self._llm_tasks.pop(gen, None))

    def _observed_feed(self, gen: int) -> Callable[[e.EngineInput], None]:
        """`feed`, telling the observer of the stream's first token and its end."""
        first = True

        def feed(item: e.EngineInput) -> None:
            nonlocal first
            if first and isinstance(item, e.LLMToken | e.LLMToolCall):
                first = False
                self.observer.llm_first_token(gen, self.clock.now())
            elif isinstance(item, e.LLMFinished | e.LLMFailed):
                error = item.message if isinstance(item, e.LLMFailed) else None
                self.observer.llm_ended(gen, self.clock.now(), error)
            self.feed(item)

        return feed

    def _cancel(self, gen: int) -> None:
        task = self._llm_tasks.get(gen)
        if task is not None:
            if not task.done():
                self.observer.llm_ended(gen, self.clock.now(), None)
            task.cancel()
        self.speech.cancel(gen)

    # ------------------------------------------------------------------ timers

    async def _run_timers(self) -> None:
        """Sleep until the engine's next deadline (re-planned whenever it may change).
        Runs under the guard: an engine failure here ends the task and the conversation."""
        while not self._guard.tripped:
            self._timer_changed.clear()
            deadline = self.engine.next_deadline()
            if deadline is None:
                await self._timer_changed.wait()
                continue
            first = await _first_done(self.clock.sleep_until(deadline), self._timer_changed.wait())
            if first == 0:
                self._apply(self.engine.fire_timers(self.clock.now()))


async def _first_done(*waits: Coroutine[Any, Any, Any]) -> int:
    """Run `waits` until one ends and return its index; the others are cancelled and
    reaped, also when the caller is cancelled (a shutdown leaves no sleeper pending on
    the clock)."""
    tasks = [asyncio.create_task(wait) for wait in waits]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return next(i for i, task in enumerate(tasks) if task in done)
