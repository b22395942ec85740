"""One conversation's behaviour as a pure state machine: (state, input, now) -> effects.

Rules this module keeps (SPEC §1.1, §3):
- One replica generation speaks at a time. `respond`, an echo of a new utterance, or a
  committed user turn interrupts the current one first — except the greeting, which is
  never interruptible: what arrives during it waits until it has been spoken.
- `turn_idx` grows by one per accepted `respond` and per committed spoken user turn;
  everything a turn causes carries it. Echoes carry the current one.
- Every generation gets a fresh `inference_id` (an echo uses the client's when given);
  a cancelled generation's late tokens and audio are dropped by its id.
- For an utterance: started_speaking, then streaming (`content_index` 0, 1, 2 …), then
  exactly one `final` streaming event, then stopped_speaking. Streaming follows the
  audio actually played; the LLM context keeps only what was heard.
- What one utterance may be asked to speak is bounded (`settings.limits`): echo text
  past `max_utterance_chars` is refused (`invalid_properties`), echoed audio may wait at
  most `max_echo_audio_ahead` seconds ahead of playout (`audio_buffer_full`), LLM text
  past the cap is not spoken. A refused echo changes nothing.
- Nothing here reads a clock: `now` comes with every call and the runtime asks
  `next_deadline()` when to call `fire_timers`.
- A user turn ends after a pause: a fixed silence, or, with the end-of-turn model
  (`TurnScored`), the level's floor when the model calls it complete, else its cap.
- A preemptive reply (started on the final transcript at a pause) stays invisible: no
  event, no playout, nothing in the context, until the turn commits with the context it
  was started on; if the user goes on it is cancelled (`turn_stats` counts both).

How it is built: the phases of generations, the user's turn and tool calls, and every
transition between them, are the tables in `phases.py`; the protocol events are built in
`events.py`; work put off until the greeting ends is data (`deferred.py`) run by `_run`.
Every input type has its case in `handle`; one that has none is refused with an error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import assert_never

from openreplica.engine.audio_analysis import TurnAudio
from openreplica.engine.context import LLMContext
from openreplica.engine.deferred import (
    BeginTurn,
    ContinueAfterTools,
    Deferred,
    SpeakEcho,
    TurnEnd,
)
from openreplica.engine.echo_limits import echo_refusal, pcm_seconds
from openreplica.engine.events import Events
from openreplica.engine.generation import Generation, GenerationKind
from openreplica.engine.io import (
    AudioPlayed,
    CancelGeneration,
    ContextMessage,
    Effect,
    Emit,
    EngineInput,
    InteractionReceived,
    LLMFailed,
    LLMFinished,
    LLMToken,
    LLMToolCall,
    ModelOutput,
    PerceptionAnalysisReady,
    PerceptionToolCallDetected,
    Play,
    PlayoutDrained,
    SendError,
    SpeechAudio,
    SpeechFailed,
    SpeechSegmentDone,
    StartGeneration,
    StopPlayout,
    Synthesize,
    TurnScored,
    UserSpeechEnded,
    UserSpeechMeasured,
    UserSpeechPausing,
    UserSpeechResumed,
    UserSpeechStarted,
    UserTranscript,
    VisualContextUpdated,
    resampled_length,
)
from openreplica.engine.perception import PerceptionState, with_visual_context
from openreplica.engine.phases import Queue, QueueEvent, Voice, VoiceEvent, Words, WordsEvent
from openreplica.engine.preemption import Preemption
from openreplica.engine.presence import Heartbeat
from openreplica.engine.sentences import SentenceSplitter
from openreplica.engine.settings import COMPLETE_PROBABILITY, EngineSettings, TurnTaking
from openreplica.engine.tools import ToolCalls
from openreplica.engine.trailing_words import ends_mid_sentence
from openreplica.engine.turn_stats import TurnStats
from openreplica.engine.user_turn import UserTurn
from openreplica.protocol import (
    AnyInteraction,
    AppendContext,
    Echo,
    EchoProps,
    ErrorCode,
    Event,
    Interrupt,
    OverwriteContext,
    Respond,
    Resume,
    Sensitivity,
    ToolResult,
    UtteranceProps,
    event_type_of,
)


class ConversationEngine:
    def __init__(
        self,
        conversation_id: str,
        settings: EngineSettings,
        new_inference_id: Callable[[], str],
    ) -> None:
        self.conversation_id = conversation_id
        self.settings = settings
        self.turn_taking: TurnTaking = settings.turn_taking
        self.context = LLMContext(
            settings.system_prompt, settings.context, settings.max_llm_history
        )
        self._new_inference_id = new_inference_id
        self._events = Events(conversation_id, settings.replica_id)
        self._turn_idx = 0
        self._next_gen = 1
        self._current: Generation | None = None
        #: waiting for the greeting to end, in arrival order
        self._deferred: list[Deferred] = []
        self._user = UserTurn()
        self._tools = ToolCalls()
        self._barge_in_at: float | None = None
        self._out: list[Effect] = []
        self._ended = False
        self._perception = PerceptionState(conversation_id, new_inference_id)
        self._heartbeat = Heartbeat(settings.presence_interval)
        self._turn_audio = TurnAudio()
        self._preempt: Preemption | None = None
        self.turn_stats = TurnStats()

    # ------------------------------------------------------------------ public API

    @property
    def turn_idx(self) -> int:
        return self._turn_idx

    @property
    def speaking_generation(self) -> int | None:
        """The generation currently producing or playing speech, if any."""
        return self._current.gen if self._current else None

    @property
    def live_generations(self) -> frozenset[int]:
        """Generations whose LLM and TTS work must go on: the speaking one and a
        preemptive reply waiting for its turn to commit."""
        live = set()
        if self._current is not None:
            live.add(self._current.gen)
        if self._preempt is not None:
            live.add(self._preempt.gen.gen)
        return frozenset(live)

    @property
    def prepared_reply(self) -> int | None:
        """The preemptive reply being prepared, if any, unless it ended with nothing to
        say (the LLM finished without a segment for the TTS)."""
        pre = self._preempt
        if pre is None or (pre.gen.next_segment == 0 and pre.gen.words is Words.COMPLETE):
            return None
        return pre.gen.gen

    @property
    def ended(self) -> bool:
        return self._ended

    def start(self, now: float) -> list[Effect]:
        """The replica joins: `system.replica_joined`, then the greeting if any."""
        self._emit(self._events.joined())
        self._heartbeat.start(now)
        greeting = (self.settings.custom_greeting or "").strip()
        if greeting:
            gen = self._new_generation("greeting")
            self._add_text(gen, greeting)
            self._complete_text(gen)
        return self._flush()

    def resume(
        self, now: float, turn_idx: int, context: str, history: tuple[ContextMessage, ...]
    ) -> list[Effect]:
        """Continue a conversation another process ran (a cluster node took it over):
        its turn index and LLM state as saved; no join event and no greeting."""
        self._turn_idx = turn_idx
        self.context.restore(context, history)
        self._heartbeat.start(now)
        return self._flush()

    def handle(self, item: EngineInput, now: float) -> list[Effect]:
        """Every input type has its case; one without raises (a bug, never dropped)."""
        if self._ended:
            return []
        match item:
            # the most frequent first: a report per played frame, then interactions
            case AudioPlayed():
                self._on_model_output(item, now)
            case InteractionReceived(interaction):
                self._on_interaction(interaction, now)
            case (
                LLMToken()
                | SpeechAudio()
                | SpeechSegmentDone()
                | PlayoutDrained()
                | LLMToolCall()
                | LLMFinished()
                | LLMFailed()
                | SpeechFailed()
            ):
                self._on_model_output(item, now)
            case UserSpeechStarted():
                self._on_user_started(item, now)
            case UserSpeechEnded():
                self._on_user_ended(item, now)
            case UserSpeechPausing():
                self._user.pausing = self._user.speaking
                self._maybe_preempt()  # on the guess sent at this first silent frame
            case UserSpeechResumed():
                if self._user.pausing:
                    self._user.pausing = False
                    self._drop_preempt()  # the speech went on: that reply came too early
            case UserSpeechMeasured(measurement):
                self._turn_audio.add(measurement)
            case UserTranscript(text, final):
                self._on_transcript(text, final, now)
            case TurnScored():
                self._on_turn_scored(item, now)
            case VisualContextUpdated(text):
                self._perception.visual_context = text.strip()
            case PerceptionToolCallDetected():
                self._emit(self._perception.tool_call(item, self._turn_idx))
            case PerceptionAnalysisReady(text):
                if (analysis := self._perception.analysis(text)) is not None:
                    self._emit(analysis)
            case _:
                assert_never(item)
        return self._flush()

    def next_deadline(self) -> float | None:
        deadlines = [
            self._barge_in_at,
            self._user.silence_deadline,
            self._echo_grace_deadline(),
            self._heartbeat.deadline,
        ]
        pending = [d for d in deadlines if d is not None]
        return min(pending) if pending else None

    def fire_timers(self, now: float) -> list[Effect]:
        if self._ended:
            return []
        if self._heartbeat.due(now):
            self._emit(self._events.present())
        if self._barge_in_at is not None and now >= self._barge_in_at:
            self._barge_in_at = None
            if self._user.speaking:
                self._interrupt(now)
        if self._user.silence_deadline is not None and now >= self._user.silence_deadline:
            self._user.silence_elapsed()
            self._try_commit_user_turn(now)
        grace = self._echo_grace_deadline()
        if grace is not None and now >= grace and self._current is not None:
            self._complete_text(self._current)
            self._check_finished(self._current, now)
        return self._flush()

    def shutdown(self, reason: str, now: float) -> list[Effect]:
        """End the conversation: cut any speech (even the greeting), then `system.shutdown`."""
        if self._ended:
            return []
        if self._current is not None:
            self._cut(self._current, now)
        self._drop_preempt()
        self._emit(self._events.shutdown(reason))
        self._ended = True
        self._heartbeat.stop()
        return self._flush()

    # ------------------------------------------------------------------ interactions

    def _on_interaction(self, interaction: AnyInteraction, now: float) -> None:
        match interaction:
            case Echo(properties=echo):
                self._accept_echo(echo, now)
            case Respond(properties=respond):
                if not self._refused_in_echo_mode(interaction):
                    self._defer_or_run(BeginTurn(respond.text.strip()), now)
            case Interrupt():
                self._interrupt(now)
            case OverwriteContext(properties=props):
                self.context.overwrite(props.value)
            case AppendContext(properties=props):
                self.context.append(props.value)
            case Sensitivity(properties=props):
                self.turn_taking = self.turn_taking.updated(
                    props.participant_pause_sensitivity, props.participant_interrupt_sensitivity
                )
            case ToolResult():
                if not self._refused_in_echo_mode(interaction):
                    self._on_tool_result(interaction, now)
            case Resume():
                pass  # replay is the transport's business; nothing changes here
            case _:
                assert_never(interaction)

    def _refused_in_echo_mode(self, interaction: AnyInteraction) -> bool:
        if self.settings.pipeline_mode != "echo":
            return False
        name = event_type_of(type(interaction))
        self._out.append(
            SendError(
                ErrorCode.NOT_ALLOWED_IN_MODE,
                f"{name} is not allowed in echo mode: this persona's replica only speaks "
                "what conversation.echo supplies",
                name,
            )
        )
        return True

    # ------------------------------------------------------------------ deferred work

    def _defer_or_run(self, work: Deferred, now: float) -> None:
        """Run now, or after the uninterruptible greeting has been spoken."""
        current = self._current
        if current is not None and not current.interruptible:
            self._deferred.append(work)
        else:
            self._run(work, now)

    def _run_deferred(self, now: float) -> None:
        while self._deferred and (self._current is None or self._current.interruptible):
            self._run(self._deferred.pop(0), now)

    def _run(self, work: Deferred, now: float) -> None:
        match work:
            case BeginTurn(text, ended_by, heard):
                self._begin_turn(text, now, ended_by, heard)
            case SpeakEcho(props, pcm):
                self._echo(props, pcm, now)
            case ContinueAfterTools(turn_idx):
                self._interrupt(now)
                self._start_reply(turn_idx)
            case _:
                assert_never(work)

    # ------------------------------------------------------------------ echoes

    def _accept_echo(self, props: EchoProps, now: float) -> None:
        """Speak an echo now (or after the greeting) unless it would cross a limit."""
        pcm = props.pcm() if props.modality == "audio" else b""
        waiting = [w for w in self._deferred if isinstance(w, SpeakEcho)]
        refusal = echo_refusal(
            props,
            pcm,
            continued=self._continued_echo(props),
            waiting=(sum(w.chars for w in waiting), sum(w.seconds for w in waiting)),
            limits=self.settings.limits,
            output_sample_rate=self.settings.output_sample_rate,
        )
        if refusal is not None:
            code, message = refusal
            self._out.append(SendError(code, message, "conversation.echo"))
            return
        chars, seconds = len(props.text or ""), pcm_seconds(pcm, props.sample_rate)
        self._defer_or_run(SpeakEcho(props, pcm, chars, seconds), now)

    def _continued_echo(self, props: EchoProps) -> Generation | None:
        """The generation this echo adds to (same `inference_id`, not done), if any."""
        current = self._current
        if (
            current is not None
            and props.inference_id is not None
            and current.inference_id == props.inference_id
            and current.words is not Words.COMPLETE
        ):
            return current
        return None

    def _echo(self, props: EchoProps, pcm: bytes, now: float) -> None:
        continued = self._continued_echo(props)
        if continued is not None:
            gen = continued
        else:
            self._interrupt(now)
            kind: GenerationKind = "echo_text" if props.modality == "text" else "echo_audio"
            gen = self._new_generation(kind, inference_id=props.inference_id)
        gen.on_words(WordsEvent.MORE)
        if props.modality == "text":
            self._add_text(gen, props.text or "")
            if props.is_done is not False:
                self._complete_text(gen)
        else:
            # All the audio of one echo is one segment: it has no words to follow, and
            # per-frame bookkeeping must not grow with the number of chunks.
            segment = 0 if gen.next_segment else gen.new_segment("")
            self._play(gen, segment, pcm, props.sample_rate)
            gen.spoken.audio_done(segment)
            if props.is_done:
                gen.on_words(WordsEvent.DONE)
        self._check_finished(gen, now)

    # ------------------------------------------------------------------ turns

    def _begin_turn(
        self, text: str, now: float, ended_by: TurnEnd | None = None, heard: str | None = None
    ) -> None:
        """A new user turn with this text: respond, or a committed spoken turn."""
        self._interrupt(now)
        self._cancel_waiting_tools()
        self._turn_idx += 1
        seen = self._perception.visual_context
        props = UtteranceProps(
            role="user",
            speech=text,
            visual_context=seen or None,
            user_visual_analysis=seen or None,
            user_audio_analysis=heard,
        )
        if ended_by is not None:
            props.turn_decided_by, props.turn_wait = ended_by[0], round(ended_by[1], 3)
        self._emit(self._events.user_utterance(self._turn_idx, props))
        self.context.add_user(with_visual_context(text, seen))
        if self.settings.pipeline_mode == "full":
            self._start_reply(self._turn_idx)

    def _start_reply(self, turn_idx: int) -> None:
        messages = self.context.messages()
        if self._adopt_preempt(messages, turn_idx):
            return
        gen = self._new_generation("reply", turn_idx=turn_idx)
        self._out.append(StartGeneration(gen.gen, messages, self.settings.tools))

    # ------------------------------------------------------------------ preemptive replies

    def _maybe_preempt(self) -> None:
        """At a pause: start the reply the turn would get now, on what was heard so far
        (the finals, or the latest partial while the last final is on its way). A reply
        prepared on words the final then changes is replaced (and counted as wasted)."""
        user = self._user
        text = user.heard_so_far
        if (
            not self.settings.preemptive_replies
            or self.settings.pipeline_mode != "full"
            or self._current is not None
            or self._deferred
            or not ((user.in_pause or user.pausing) and text)
        ):
            return
        seen = self._perception.visual_context
        pending = ContextMessage(role="user", content=with_visual_context(text, seen))
        messages = (*self.context.messages(), pending)
        if self._preempt is not None:
            if self._preempt.messages == messages:
                return
            self._drop_preempt()
        gen = Generation(
            gen=self._next_gen,
            inference_id=self._new_inference_id(),
            turn_idx=self._turn_idx + 1,
            kind="reply",
            splitter=self._splitter("reply"),
        )
        self._next_gen += 1
        self._preempt = Preemption(gen, messages)
        self.turn_stats.preemptive_started += 1
        self._out.append(StartGeneration(gen.gen, messages, self.settings.tools))

    def _adopt_preempt(self, messages: tuple[ContextMessage, ...], turn_idx: int) -> bool:
        """The committed turn takes the preemptive reply if it was made for this context."""
        pre = self._preempt
        if pre is None:
            return False
        if pre.messages != messages:
            self._drop_preempt()
            return False
        self._preempt = None
        self.turn_stats.preemptive_used += 1
        pre.gen.turn_idx = turn_idx
        self._current = pre.gen
        self._out.extend(pre.held)
        return True

    def _drop_preempt(self) -> None:
        pre, self._preempt = self._preempt, None
        if pre is not None:
            self.turn_stats.preemptive_wasted += 1
            self._out.append(CancelGeneration(pre.gen.gen))

    def _on_preempt_output(self, pre: Preemption, item: ModelOutput, now: float) -> None:
        """Build the reply as usual, holding back all but the first segment's synthesis.
        A tool call or a failure would reach clients: drop it; the turn starts afresh."""
        if isinstance(item, (LLMToolCall, LLMFailed, SpeechFailed)):
            self._drop_preempt()
            return
        mark = len(self._out)
        self._apply_output(pre.gen, item, now)
        produced = self._out[mark:]
        del self._out[mark:]
        self._out.extend(pre.hold(produced))

    # ------------------------------------------------------------------ tools

    def _on_tool_result(self, result: ToolResult, now: float) -> None:
        props = result.properties
        problem = self._tools.result(props.tool_call_id, props.name, props.output_text)
        if problem is not None:
            self._out.append(
                SendError(ErrorCode.INVALID_PROPERTIES, problem, "conversation.tool_result")
            )
            return
        self._continue_after_tools(now)

    def _continue_after_tools(self, now: float) -> None:
        ready = self._tools.take_ready()
        if ready is None:
            return
        turn_idx, results = ready
        for call_id, name, output in results:
            self.context.add_tool_result(call_id, name, output)
        self._defer_or_run(ContinueAfterTools(turn_idx), now)

    def _cancel_waiting_tools(self) -> None:
        for call_id, name in self._tools.cancel_all():
            self.context.add_tool_result(
                call_id, name, "cancelled: the conversation moved on before the result arrived"
            )

    # ------------------------------------------------------------------ the user's voice

    def _on_user_started(self, item: UserSpeechStarted, now: float) -> None:
        if not self._user.start(item.media_time):
            return
        self._drop_preempt()  # the user went on: that reply answered too early
        self._emit_all(self._events.user_started())
        current = self._current
        if current is not None and current.interruptible:
            wait = max(0.0, self.turn_taking.interrupt_min_speech - item.detected_after)
            self._barge_in_at = now + wait

    def _on_user_ended(self, item: UserSpeechEnded, now: float) -> None:
        duration = self._user.end(item.media_time)
        if duration is None:
            return
        # Speech that ends under the replica's voice before it was long enough to
        # interrupt is a backchannel ("mm-hmm", a cough): it must not start a turn either.
        current = self._current
        if (
            self._barge_in_at is not None
            and current is not None
            and current.interruptible
            and duration < self.turn_taking.interrupt_min_speech
        ):
            self._user.drop_last_segment()
        self._barge_in_at = None
        self._emit_all(self._events.user_stopped(duration))
        # Waits count from the end of the speech, which the detector confirmed late.
        pause_start = now - item.detected_after
        turn_taking = self.turn_taking
        if turn_taking.detector == "smart_turn":
            wait = turn_taking.turn_wait.cap  # until the model calls the turn complete
        else:
            wait = turn_taking.pause_silence
        self._user.pause_began(item.media_time, pause_start, max(now, pause_start + wait))
        self._maybe_preempt()  # on the partial sent at the speech's first silent frame

    def _on_turn_scored(self, item: TurnScored, now: float) -> None:
        user = self._user
        if not user.in_pause or user.pause_media_time != item.speech_end:
            return  # about a pause that is over
        if user.silence_deadline is None:
            return  # already elapsed
        if item.probability is None:  # the model failed: the fixed silence decides
            deadline = user.pause_started + self.turn_taking.pause_silence
        elif item.probability >= COMPLETE_PROBABILITY:
            deadline = user.pause_started + self.turn_taking.turn_wait.floor
            user.decided_by = "model"
        else:
            return  # incomplete: the cap stands
        user.silence_deadline = max(now, min(user.silence_deadline, deadline))
        if user.silence_deadline <= now:
            user.silence_elapsed()
            self._try_commit_user_turn(now)

    def _on_transcript(self, text: str, final: bool, now: float) -> None:
        if final:
            self._user.add_final(text)
            self._try_commit_user_turn(now)
            self._maybe_preempt()
            return
        speech = self._user.add_partial(text)
        if speech:
            self._emit_user_streaming(speech, final=False)
            self._maybe_preempt()  # a partial during the pause: the words are in

    def _emit_user_streaming(self, speech: str, final: bool) -> None:
        # the turn this speech will start
        turn_idx, index = self._turn_idx + 1, self._user.next_content_index()
        self._emit(self._events.user_streaming(turn_idx, speech, index, final=final))

    def _try_commit_user_turn(self, now: float) -> None:
        if not self._user.ready_to_commit:
            return
        text = self._user.transcript
        if self._user.decided_by == "model" and ends_mid_sentence(text):
            # "I'd like to book a…": the words say it is not over; wait up to the cap
            cap = self._user.pause_started + self.turn_taking.turn_wait.cap
            if now < cap:
                self._user.wait_until(cap)
                return
        if text and self._user.streamed:
            self._emit_user_streaming(text, final=True)
        ended_by: TurnEnd = (self._user.decided_by, max(0.0, now - self._user.pause_started))
        self._user.reset()
        heard = self._turn_audio.take(text)
        if not text:
            self._drop_preempt()
            return  # noise or an empty transcript: no turn
        self.turn_stats.committed(*ended_by)
        self._defer_or_run(BeginTurn(text, ended_by, heard), now)

    # ------------------------------------------------------------------ model output

    def _on_model_output(self, item: ModelOutput, now: float) -> None:
        pre = self._preempt
        if pre is not None and pre.gen.gen == item.gen:
            self._on_preempt_output(pre, item, now)
            return
        gen = self._current
        if gen is None or gen.gen != item.gen:
            return  # a cancelled or finished generation: drop its late output by id
        self._apply_output(gen, item, now)
        self._check_finished(gen, now)

    def _apply_output(self, gen: Generation, item: ModelOutput, now: float) -> None:
        match item:
            case AudioPlayed(segment=segment, samples=samples):
                self._on_played(gen, segment, samples)
            case LLMToken(text=text):
                gen.on_words(WordsEvent.MORE)
                room = self.settings.limits.max_utterance_chars - len(gen.text)
                if room > 0:  # past the cap a runaway model is not spoken
                    self._add_text(gen, text[:room])
            case SpeechAudio(segment=segment, pcm=pcm, sample_rate=rate):
                self._play(gen, segment, pcm, rate)
            case SpeechSegmentDone(segment=segment):
                gen.synthesizing.discard(segment)
                gen.spoken.audio_done(segment)
            case PlayoutDrained():
                gen.on_queue(QueueEvent.DRAINED)
                gen.drained_at = now
            case LLMToolCall(tool_call_id=call_id, name=name, arguments=arguments):
                gen.on_words(WordsEvent.MORE)
                gen.tool_calls.append(call_id)
                self._tools.called(call_id, name, arguments, gen.turn_idx)
                self._emit(self._events.tool_call(gen, call_id, name, arguments))
            case LLMFinished():
                self._complete_text(gen)
            case LLMFailed(message=message):
                self._complete_text(gen)
                self._out.append(SendError(ErrorCode.LLM_UNAVAILABLE, message, to_sender=False))
            case SpeechFailed(segment=segment, message=message):
                gen.synthesizing.discard(segment)
                gen.spoken.audio_done(segment)
                self._out.append(SendError(ErrorCode.TTS_UNAVAILABLE, message, to_sender=False))
            case _:
                assert_never(item)

    def _on_played(self, gen: Generation, segment: int, samples: int) -> None:
        gen.spoken.played(segment, samples)
        if gen.voice is Voice.QUIET:
            gen.on_voice(VoiceEvent.PLAYED)
            self._emit_all(self._events.replica_started(gen))
            self._send_utterance_if_known(gen)
        if not gen.has_text:
            return
        heard = gen.spoken.heard_count()
        if heard > gen.heard_sent:
            gen.heard_sent = heard
            self._emit_streaming(gen, " ".join(gen.spoken.heard_words()), final=False)

    # ------------------------------------------------------------------ generations

    def _new_generation(
        self,
        kind: GenerationKind,
        *,
        inference_id: str | None = None,
        turn_idx: int | None = None,
    ) -> Generation:
        gen = Generation(
            gen=self._next_gen,
            inference_id=inference_id or self._new_inference_id(),
            turn_idx=self._turn_idx if turn_idx is None else turn_idx,
            kind=kind,
            splitter=self._splitter(kind),
        )
        self._next_gen += 1
        self._current = gen
        return gen

    def _splitter(self, kind: GenerationKind) -> SentenceSplitter:
        """An LLM reply's first segment is its first few words: its audio comes sooner."""
        first_words = self.settings.first_segment_words if kind == "reply" else 0
        return SentenceSplitter(
            max_chars=self.settings.limits.max_segment_chars, first_words=first_words
        )

    def _add_text(self, gen: Generation, text: str) -> None:
        gen.text += text
        for sentence in gen.splitter.push(text):
            self._synthesize(gen, sentence)

    def _complete_text(self, gen: Generation) -> None:
        if gen.has_text:
            rest = gen.splitter.flush()
            if rest:
                self._synthesize(gen, rest)
        gen.on_words(WordsEvent.DONE)
        if gen.started:
            self._send_utterance_if_known(gen)

    def _synthesize(self, gen: Generation, text: str) -> None:
        segment = gen.new_segment(text)
        gen.synthesizing.add(segment)
        self._out.append(Synthesize(gen.gen, segment, text))

    def _play(self, gen: Generation, segment: int, pcm: bytes, sample_rate: int) -> None:
        samples = len(pcm) // 2
        if samples == 0:
            return
        out_rate = self.settings.output_sample_rate
        gen.spoken.add_audio(segment, resampled_length(samples, sample_rate, out_rate))
        gen.on_queue(QueueEvent.PLAY)
        self._out.append(Play(gen.gen, segment, pcm, sample_rate))

    def _send_utterance_if_known(self, gen: Generation) -> None:
        """Once it speaks and its whole text is known (SPEC §1.2 utterance)."""
        if (
            gen.voice is Voice.SPEAKING
            and gen.has_text
            and gen.words is Words.COMPLETE
            and gen.text.strip()
        ):
            gen.on_voice(VoiceEvent.UTTERED)
            self._emit(self._events.utterance(gen))

    def _check_finished(self, gen: Generation, now: float) -> None:
        if self._current is gen and gen.finished_playing:
            self._finish(gen, interrupted=False, now=now)

    def _echo_grace_deadline(self) -> float | None:
        gen = self._current
        if (
            gen is None
            or gen.kind != "echo_audio"
            or gen.words is Words.COMPLETE
            or gen.queue is not Queue.DRAINED
        ):
            return None
        return gen.drained_at + self.settings.echo_audio_grace

    def _interrupt(self, now: float) -> None:
        """Cut the current generation if it may be interrupted."""
        gen = self._current
        if gen is not None and gen.interruptible:
            self._cut(gen, now)

    def _cut(self, gen: Generation, now: float) -> None:
        self._barge_in_at = None
        if gen.words is Words.LLM or gen.synthesizing:
            self._out.append(CancelGeneration(gen.gen))
        self._out.append(StopPlayout(gen.gen))
        self._finish(gen, interrupted=True, now=now)
        self._cancel_waiting_tools()

    def _finish(self, gen: Generation, *, interrupted: bool, now: float) -> None:
        if interrupted:
            heard = " ".join(gen.spoken.heard_words())
        else:
            heard = " ".join(s.text for _, s in sorted(gen.spoken.segments.items()) if s.text)
        if gen.started:
            if gen.has_text:
                if gen.voice is Voice.SPEAKING and gen.text.strip():
                    gen.on_voice(VoiceEvent.UTTERED)  # cut before its text was complete
                    self._emit(self._events.utterance(gen))
                self._emit_streaming(gen, heard, final=True, interrupted=interrupted)
            duration = gen.spoken.played_samples / self.settings.output_sample_rate
            self._emit_all(self._events.replica_stopped(gen, duration, interrupted=interrupted))
            if interrupted and self.settings.emit_replica_interrupted:
                self._emit(self._events.replica_interrupted(gen))
        gen.on_voice(VoiceEvent.END)
        if gen.has_text:
            self.context.add_replica(heard, self._tools.calls_of(gen.tool_calls))
        self._tools.generation_finished(gen.tool_calls)
        self._current = None
        if not interrupted:
            # (a cut cancels the waiting tools instead; and deferred work waits for the
            # greeting to be *spoken*: a cut greeting is a shutdown, and a cut made while
            # running deferred work must not start the next item inside the current one)
            self._continue_after_tools(now)
            self._run_deferred(now)

    # ------------------------------------------------------------------ output

    def _emit(self, event: Event) -> None:
        self._out.append(Emit(event))

    def _emit_all(self, events: tuple[Event, ...]) -> None:
        for event in events:  # (a loop: a generator costs more for two events)
            self._out.append(Emit(event))

    def _emit_streaming(
        self, gen: Generation, speech: str, *, final: bool, interrupted: bool = False
    ) -> None:
        self._emit(self._events.streaming(gen, speech, final=final, interrupted=interrupted))

    def _flush(self) -> list[Effect]:
        out, self._out = self._out, []
        return out
