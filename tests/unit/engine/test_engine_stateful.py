"""The pure engine under random interleavings, checked against SPEC §3 after every step.

A hypothesis state machine plays the runtime around one `ConversationEngine`: it sends
interactions (respond, echo text and audio, interrupt, context, sensitivity, tool
results), VAD edges, transcripts and end-of-turn scores, and answers the engine's effects
the way the runtime does (an LLM that streams tokens and tool calls, a TTS that answers
each sentence, a playout that plays 20 ms frames and reports them, timers at their
deadlines). Every event goes through the real sequencer and is checked as it comes out
(`Spec`), so a failure names the step that broke a rule. The engine must never raise:
every interleaving here is one the runtime can produce.
"""

from __future__ import annotations

import base64
import itertools
from collections import deque
from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from openreplica import protocol as p
from openreplica.engine import ConversationEngine, EngineSettings, TurnTaking
from openreplica.engine import io as e

OUT_RATE = 24000
FRAME = OUT_RATE // 50  # 20 ms at the output rate
WORD_SAMPLES = OUT_RATE // 5  # 200 ms of synthesised audio per word
ECHO_RATE = 16000
LEVELS: list[p.SensitivityLevel] = ["superlow", "verylow", "low", "medium", "high"]
WORDS = ["yes", "the", "blue", "train", "left", "at", "noon", "really"]
ENDS = ["", "", ".", "?", "!"]


@dataclass
class Utterance:
    """What the checker knows of one replica inference."""

    turn_idx: int | None
    started: bool = False
    stopped: bool = False
    interrupted: bool = False
    next_index: int = 0
    final_seen: bool = False
    last_speech: list[str] = field(default_factory=list)
    utterance_seen: bool = False


class Spec:
    """SPEC §3, checked event by event on the stamped stream."""

    def __init__(self, greeting: bool, interrupted_event: bool, audio_only: set[str]) -> None:
        self.last_seq = 0
        self.last_timestamp = 0.0
        self.turn = 0  # the latest user utterance's turn_idx
        self.last_turn_seen = 0  # for monotonic turn_idx on turn-scoped events
        self.inferences: dict[str, Utterance] = {}
        self.speaking: str | None = None  # the replica inference between started/stopped
        self.closed: set[str] = set()  # inferences past their stopped (and companions)
        self.user_speaking = False
        self.expect_next: type[p.Event] | None = None  # a companion that must come next
        self.ended = False
        self.greeting = greeting
        self.greeting_id: str | None = None
        self.interrupted_event = interrupted_event
        self.audio_only = audio_only  # inferences of audio echoes: no text, no streaming

    def check(self, raw: p.Event, event: p.Event) -> None:
        """`raw` as the engine emitted it, `event` as the sequencer stamped it."""
        assert not self.ended, f"{event!r} after system.shutdown"
        # §3.1, §3.2: seq gapless from 1, timestamps never decrease
        assert event.seq == self.last_seq + 1, (event.seq, self.last_seq)
        self.last_seq = event.seq or 0
        assert event.timestamp is not None and event.timestamp >= self.last_timestamp
        self.last_timestamp = event.timestamp
        if self.last_seq == 1:
            assert isinstance(event, p.ReplicaJoined), "replica_joined must be seq 1"
        # role-agnostic companions come right after their role-specific event
        if self.expect_next is not None:
            expected, self.expect_next = self.expect_next, None
            assert type(event) is expected, f"{expected.__name__} expected, got {event!r}"
        # §3.3: system events carry no turn_idx
        if isinstance(event, p.SystemEvent):
            assert event.turn_idx is None, event
            if isinstance(event, p.Shutdown):
                self.ended = True
            return
        self._turn_rules(raw, event)
        if isinstance(event, p.UserStartedSpeaking):
            assert not self.user_speaking, "user.started_speaking twice"
            self.user_speaking = True
            self.expect_next = p.StartedSpeaking
        elif isinstance(event, p.UserStoppedSpeaking):
            assert self.user_speaking, "user.stopped_speaking without a start"
            self.user_speaking = False
            self.expect_next = p.StoppedSpeaking
        if event.inference_id is not None:
            self._inference_rules(event, event.inference_id)

    def _turn_rules(self, raw: p.Event, event: p.Event) -> None:
        props = getattr(event, "properties", None)
        role = getattr(props, "role", None)
        if isinstance(event, p.Utterance) and role == "user":
            # §3.3: +1 per accepted respond or committed spoken turn
            assert event.turn_idx == self.turn + 1, (event.turn_idx, self.turn)
            self.turn += 1
        elif isinstance(event, p.UtteranceStreaming) and role == "user":
            assert event.turn_idx == self.turn + 1, "user speech carries the turn it starts"
            return
        if raw.turn_idx is not None:
            assert raw.turn_idx <= self.turn, f"{event!r} names a turn not begun"
            assert raw.turn_idx >= self.last_turn_seen, f"turn_idx went back: {event!r}"
            self.last_turn_seen = raw.turn_idx

    def _inference_rules(self, event: p.Event, inference: str) -> None:
        # §3.5: nothing of an inference after its stopped_speaking but the companions
        assert inference not in self.closed, f"{event!r} after its stopped_speaking"
        u = self.inferences.get(inference)
        if u is None:
            # §3.3/3.4: a generation's first event carries the current turn
            assert event.turn_idx == self.turn, (event, self.turn)
            u = self.inferences[inference] = Utterance(event.turn_idx)
            if self.greeting and self.greeting_id is None:
                self.greeting_id = inference
        assert event.turn_idx == u.turn_idx, f"one inference, two turns: {event!r}"
        match event:
            case p.ReplicaStartedSpeaking():
                assert self.speaking is None, f"{inference} speaks over {self.speaking}"
                assert not u.started
                u.started, self.speaking = True, inference
                self.expect_next = p.StartedSpeaking
            case p.StartedSpeaking():
                assert u.started and self.speaking == inference
            case p.UtteranceStreaming(properties=props):
                # §3.5: between started and stopped, content_index gapless, one final last
                assert u.started and not u.stopped and not u.final_seen, event
                assert props.content_index == u.next_index, (props, u.next_index)
                u.next_index += 1
                words = props.speech.split()
                assert words[: len(u.last_speech)] == u.last_speech, "speech went back"
                u.last_speech = words
                if props.final:
                    u.final_seen = True
                    u.interrupted = bool(props.is_interrupted)
                else:
                    assert props.is_interrupted is None
            case p.Utterance():
                assert u.started and not u.stopped and not u.utterance_seen, event
                u.utterance_seen = True
            case p.ReplicaStoppedSpeaking(properties=props):
                assert u.started and not u.stopped and self.speaking == inference
                assert props.duration >= 0
                # §3.5/§3.6: the final streaming event came first, marked as the stop says
                if inference in self.audio_only:
                    assert u.next_index == 0, "an audio echo has no words to stream"
                else:
                    assert u.final_seen, f"{event!r} before the final streaming event"
                    assert u.interrupted == props.interrupted, event
                u.stopped, u.interrupted, self.speaking = True, props.interrupted, None
                self.expect_next = p.StoppedSpeaking
            case p.StoppedSpeaking(properties=props):
                assert u.stopped and props.role == "replica"
                assert props.interrupted == u.interrupted
                if u.interrupted and self.interrupted_event:
                    self.expect_next = p.ReplicaInterrupted
                else:
                    self.closed.add(inference)
            case p.ReplicaInterrupted():
                assert u.stopped and u.interrupted and self.interrupted_event, event
                self.closed.add(inference)
            case p.ToolCall():
                assert not u.stopped, event
            case _:
                raise AssertionError(f"unexpected replica event {event!r}")


@dataclass
class Chunk:
    gen: int
    segment: int
    samples: int


class EngineMachine(RuleBasedStateMachine):
    """The runtime around one engine, driven at random."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.ids = itertools.count(1)
        self.llm: set[int] = set()  # generations whose LLM stream is going
        self.tts: dict[int, deque[tuple[int, str]]] = {}  # gen -> (segment, text) to do
        self.queue: deque[Chunk] = deque()
        self.dead: set[int] = set()  # stopped or cancelled generations
        self.started: set[int] = set()
        self.waiting_calls: list[str] = []
        self.echo_id: str | None = None  # the client's open echo, to continue
        self.user_end: float | None = None  # media time of the last VAD end
        self.audio_only: set[str] = set()

    # ------------------------------------------------------------------ plumbing

    @initialize(
        greeting=st.booleans(),
        preemptive=st.booleans(),
        smart_turn=st.booleans(),
        interrupted_event=st.booleans(),
    )
    def begin(
        self, greeting: bool, preemptive: bool, smart_turn: bool, interrupted_event: bool
    ) -> None:
        engine_settings = EngineSettings(
            output_sample_rate=OUT_RATE,
            custom_greeting="Hello there. Nice to meet you." if greeting else None,
            preemptive_replies=preemptive,
            emit_replica_interrupted=interrupted_event,
            turn_taking=TurnTaking(detector="smart_turn" if smart_turn else "silence"),
            tools=({"type": "function", "function": {"name": "lookup"}},),
        )
        self.engine = ConversationEngine("c1", engine_settings, lambda: f"inf-{next(self.ids)}")
        self.sequencer = p.Sequencer("c1")
        self.spec = Spec(greeting, interrupted_event, self.audio_only)
        self._absorb(self.engine.start(self.now))

    def _feed(self, item: e.EngineInput) -> list[e.Effect]:
        effects = self.engine.handle(item, self.now)
        self._absorb(effects)
        return effects

    def _absorb(self, effects: list[e.Effect]) -> None:
        """Check the events and do what the runtime does with each effect."""
        for effect in effects:
            match effect:
                case e.Emit(event):
                    self.spec.check(event, self.sequencer.stamp(event, self.now))
                    if isinstance(event, p.ToolCall):
                        self.waiting_calls.append(event.properties.tool_call_id)
                case e.SendError():
                    pass  # a refusal or a plugin failure: what follows is checked
                case e.StartGeneration(gen):
                    assert gen not in self.started, "generation ids are fresh"
                    self.started.add(gen)
                    self.llm.add(gen)
                case e.CancelGeneration(gen) | e.StopPlayout(gen):
                    self.dead.add(gen)
                    self.llm.discard(gen)
                    self.tts.pop(gen, None)
                    if isinstance(effect, e.StopPlayout):
                        self.queue = deque(c for c in self.queue if c.gen != gen)
                case e.Synthesize(gen, segment, text):
                    assert gen not in self.dead, f"synthesis for dead generation {gen}"
                    self.tts.setdefault(gen, deque()).append((segment, text))
                case e.Play(gen, segment, pcm, rate):
                    assert gen not in self.dead, f"playout for dead generation {gen}"
                    samples = e.resampled_length(len(pcm) // 2, rate, OUT_RATE)
                    if samples:
                        self.queue.append(Chunk(gen, segment, samples))
        # as the runtime does: synthesis only for the live generations
        live = self.engine.live_generations
        for gen in [g for g in self.tts if g not in live]:
            del self.tts[gen]

    def _advance(self, seconds: float) -> None:
        """Let time pass, firing the engine's timers at their deadlines."""
        until = self.now + seconds
        while (deadline := self.engine.next_deadline()) is not None and deadline <= until:
            self.now = max(self.now, deadline)
            self._absorb(self.engine.fire_timers(self.now))
        self.now = until

    def _interact(self, interaction: p.AnyInteraction) -> list[e.Effect]:
        return self._feed(e.InteractionReceived(interaction))

    # ------------------------------------------------------------------ interactions

    def respond(self, words: list[str]) -> None:
        self._interact(p.Respond(properties=p.RespondProps(text=" ".join(words) + "?")))

    def interrupt(self) -> None:
        speaking = self.spec.speaking
        self._interact(p.Interrupt())
        if speaking is not None and speaking != self.spec.greeting_id:
            # §3.6: cut now, marked interrupted, and nothing of it follows
            assert self.spec.speaking is None
            assert self.spec.inferences[speaking].interrupted
            assert speaking in self.spec.closed

    def _echo_inference(self, go_on: bool) -> str:
        """The client's open echo to add to, or a fresh id (a client does not reuse the
        id of an utterance that was spoken or cut)."""
        known = self.spec.inferences.get(self.echo_id or "")
        if go_on and self.echo_id and not (known and known.stopped):
            return self.echo_id
        return f"echo-{next(self.ids)}"

    def echo_text(self, words: list[str], end: str, go_on: bool, done: bool | None) -> None:
        inference = self._echo_inference(go_on)
        if inference in self.audio_only:
            return  # the client's utterance is audio: text does not join it
        props = p.EchoProps(text=" ".join(words) + end, inference_id=inference, done=done)
        self._interact(p.Echo(properties=props))
        self.echo_id = inference if done is False else None

    def echo_audio(self, frames: int, go_on: bool, done: bool | None) -> None:
        inference = self._echo_inference(go_on)
        if self.echo_id == inference and inference not in self.audio_only:
            return  # the client's utterance is text: audio does not join it
        self.audio_only.add(inference)
        pcm = b"\x01\x00" * (ECHO_RATE // 50 * frames)
        props = p.EchoProps(
            modality="audio",
            audio=base64.b64encode(pcm).decode(),
            sample_rate=ECHO_RATE,
            inference_id=inference,
            done=done,
        )
        self._interact(p.Echo(properties=props))
        self.echo_id = None if done else inference

    def context(self, text: str, append: bool) -> None:
        if append:
            self._interact(p.AppendContext(properties=p.AppendContextProps(context=text)))
        else:
            self._interact(p.OverwriteContext(properties=p.ContextProps(context=text)))

    def sensitivity(self, pause: p.SensitivityLevel, interrupt: p.SensitivityLevel) -> None:
        props = p.SensitivityProps(
            participant_pause_sensitivity=pause, participant_interrupt_sensitivity=interrupt
        )
        self._interact(p.Sensitivity(properties=props))

    def tool_result(self, data: st.DataObject, unknown: int) -> None:
        if self.waiting_calls and unknown:
            call_id = data.draw(st.sampled_from(self.waiting_calls))
        elif unknown == 0:
            call_id = f"call-unknown-{next(self.ids)}"  # refused: nothing waits for it
        else:
            return
        props = p.ToolResultProps(tool_call_id=call_id, output="42", name="lookup")
        self._interact(p.ToolResult(properties=props))

    # ------------------------------------------------------------------ the LLM

    @precondition(lambda self: bool(self.llm))
    @rule(data=st.data(), what=st.sampled_from(["token"] * 3 + ["tool", "end", "end", "fail"]))
    def llm_output(self, data: st.DataObject, what: str) -> None:
        gen = data.draw(st.sampled_from(sorted(self.llm)))
        if what == "token":
            word, end = data.draw(st.sampled_from(WORDS)), data.draw(st.sampled_from(ENDS))
            self._feed(e.LLMToken(gen, f"{word}{end} "))
        elif what == "tool":
            call_id = f"call-{next(self.ids)}"
            self._feed(e.LLMToolCall(gen, call_id, "lookup", '{"q": 1}'))
        else:
            self.llm.discard(gen)  # its stream ends here either way
            self._feed(e.LLMFinished(gen) if what == "end" else e.LLMFailed(gen, "boom"))

    @precondition(lambda self: bool(self.llm))
    @rule(data=st.data(), words=st.integers(1, 6), finish=st.booleans())
    def llm_sentence(self, data: st.DataObject, words: int, finish: bool) -> None:
        """A burst: a whole sentence, and maybe the end of the stream."""
        gen = data.draw(st.sampled_from(sorted(self.llm)))
        for i in range(words):
            if gen not in self.llm:
                return
            self._feed(e.LLMToken(gen, WORDS[i % len(WORDS)] + ("." if i == words - 1 else " ")))
        if finish and gen in self.llm:
            self.llm.discard(gen)
            self._feed(e.LLMFinished(gen))

    # ------------------------------------------------------------------ the TTS

    @precondition(lambda self: any(self.tts.values()))
    @rule()
    def tts_all(self) -> None:
        """A burst: every sentence waiting is synthesised."""
        while todo := [g for g, q in sorted(self.tts.items()) if q]:
            gen = todo[0]
            segment, text = self.tts[gen].popleft()
            pcm = b"\x01\x00" * (WORD_SAMPLES * max(1, len(text.split())))
            self._feed(e.SpeechAudio(gen, segment, pcm, OUT_RATE))
            if gen not in self.dead:
                self._feed(e.SpeechSegmentDone(gen, segment))

    @precondition(lambda self: any(self.tts.values()))
    @rule(data=st.data(), fail=st.integers(0, 9), chunks=st.integers(0, 2))
    def tts_output(self, data: st.DataObject, fail: int, chunks: int) -> None:
        gen = data.draw(st.sampled_from(sorted(g for g, q in self.tts.items() if q)))
        segment, text = self.tts[gen].popleft()
        if fail == 0:
            self._feed(e.SpeechFailed(gen, segment, "tts down"))
            return
        samples = WORD_SAMPLES * max(1, len(text.split()))
        for _ in range(chunks):
            if gen in self.dead:
                return
            self._feed(e.SpeechAudio(gen, segment, b"\x01\x00" * samples, OUT_RATE))
        if gen not in self.dead:
            self._feed(e.SpeechSegmentDone(gen, segment))

    # ------------------------------------------------------------------ playout

    @rule(frames=st.integers(1, 30))
    def play(self, frames: int) -> None:
        """20 ms frames as the runtime's playout plays them: report each piece, let the
        frame play out, then report the generations whose audio ran out."""
        for _ in range(frames):
            pieces: list[Chunk] = []
            need = FRAME
            while need and self.queue:
                chunk = self.queue[0]
                take = min(need, chunk.samples)
                chunk.samples -= take
                need -= take
                pieces.append(Chunk(chunk.gen, chunk.segment, take))
                if chunk.samples == 0:
                    self.queue.popleft()
            for piece in pieces:
                self._feed(e.AudioPlayed(piece.gen, piece.segment, piece.samples))
            self._advance(0.02)
            for gen in sorted({piece.gen for piece in pieces}):
                if all(c.gen != gen for c in self.queue):
                    self._feed(e.PlayoutDrained(gen))

    @rule(frames=st.integers(1, 40), tool=st.booleans())
    def runtime_catches_up(self, frames: int, tool: bool) -> None:
        """A burst: every running LLM stream says a sentence (asking for a tool first, if
        `tool`) and ends, every sentence is synthesised, then `frames` frames play (so
        replies get to speak)."""
        for gen in sorted(self.llm):
            if tool and gen in self.llm:
                self._feed(e.LLMToolCall(gen, f"call-{next(self.ids)}", "lookup", "{}"))
            if gen in self.llm:
                self._feed(e.LLMToken(gen, "All right then."))
            if gen in self.llm:
                self.llm.discard(gen)
                self._feed(e.LLMFinished(gen))
        if any(self.tts.values()):
            self.tts_all()
        self.play(frames)

    # ------------------------------------------------------------------ the user's voice

    def vad_start(self, detected_after: float) -> None:
        self._feed(e.UserSpeechStarted(self.now, detected_after))

    def vad_end(self, detected_after: float) -> None:
        if self.spec.user_speaking:
            self.user_end = self.now
        self._feed(e.UserSpeechEnded(self.now, detected_after))

    def transcript(self, words: list[str], final: bool) -> None:
        self._feed(e.UserTranscript(" ".join(words), final))

    def turn_scored(self, probability: float | None) -> None:
        if self.user_end is not None:
            self._feed(e.TurnScored(self.user_end, probability))

    # ------------------------------------------------------------------ the rules for them
    # One rule each for the client and the user's voice, drawing which: with a rule per
    # interaction, disruptions (each new turn cuts the reply) would outnumber progress
    # and a reply would seldom get to speak.

    @rule(data=st.data())
    def client(self, data: st.DataObject) -> None:
        kind = data.draw(
            st.sampled_from(
                ["respond", "interrupt", "echo_text", "echo_audio", "context", "sensitivity"]
                + ["tool_result"] * 2
            )
        )
        words = st.lists(st.sampled_from(WORDS), min_size=1, max_size=4)
        match kind:
            case "respond":
                self.respond(data.draw(words))
            case "interrupt":
                self.interrupt()
            case "echo_text":
                self.echo_text(
                    data.draw(st.lists(st.sampled_from(WORDS), max_size=5)),
                    data.draw(st.sampled_from(ENDS)),
                    data.draw(st.booleans()),
                    data.draw(st.sampled_from([True, False, None])),
                )
            case "echo_audio":
                self.echo_audio(
                    data.draw(st.integers(0, 25)),
                    data.draw(st.booleans()),
                    data.draw(st.sampled_from([True, None])),
                )
            case "context":
                self.context(
                    data.draw(st.sampled_from(["You sell trains.", "Be brief."])),
                    data.draw(st.booleans()),
                )
            case "sensitivity":
                self.sensitivity(
                    data.draw(st.sampled_from(LEVELS)), data.draw(st.sampled_from(LEVELS))
                )
            case _:
                self.tool_result(data, data.draw(st.integers(0, 4)))

    @rule(data=st.data())
    def voice(self, data: st.DataObject) -> None:
        kind = data.draw(st.sampled_from(["start", "end", "partial", "final", "scored"]))
        detected_after = data.draw(st.sampled_from([0.0, 0.1, 0.3]))
        match kind:
            case "start":
                self.vad_start(detected_after)
            case "end":
                self.vad_end(detected_after)
            case "partial" | "final":
                words = data.draw(st.lists(st.sampled_from(WORDS), max_size=4))
                self.transcript(words, kind == "final")
            case _:
                self.turn_scored(data.draw(st.sampled_from([None, 0.05, 0.95])))

    # ------------------------------------------------------------------ time, perception

    @rule(seconds=st.sampled_from([0.05, 0.2, 0.5, 1.5, 6.0]))
    def wait(self, seconds: float) -> None:
        self._advance(seconds)

    @rule(text=st.sampled_from(["", "A person waving."]))
    def camera(self, text: str) -> None:
        self._feed(e.VisualContextUpdated(text))

    @precondition(lambda self: bool(self.dead))
    @rule(data=st.data())
    def late_output(self, data: st.DataObject) -> None:
        """Output of a cancelled generation is dropped by its id: no effect at all."""
        gen = data.draw(st.sampled_from(sorted(self.dead)))
        late: list[e.ModelOutput] = [
            e.LLMToken(gen, "late "),
            e.SpeechAudio(gen, 0, b"\x01\x00" * FRAME, OUT_RATE),
            e.AudioPlayed(gen, 0, FRAME),
            e.PlayoutDrained(gen),
        ]
        assert self.engine.handle(data.draw(st.sampled_from(late)), self.now) == []

    # ------------------------------------------------------------------ invariants

    @invariant()
    def dead_generations_stay_dead(self) -> None:
        if hasattr(self, "engine"):
            assert not (self.engine.live_generations & self.dead)
            assert self.engine.turn_idx == self.spec.turn
            # §3.6: a cut generation's audio left playout with the cut
            live = self.engine.live_generations
            assert all(c.gen in live for c in self.queue), "audio of a cut generation plays"

    def teardown(self) -> None:
        """Shutdown cuts whatever speaks: every started utterance is closed, and
        `system.shutdown` is the last event."""
        if not hasattr(self, "engine"):
            return
        self._absorb(self.engine.shutdown("test over", self.now))
        assert self.spec.ended and self.spec.speaking is None
        for inference, u in self.spec.inferences.items():
            assert u.started == u.stopped, inference
        assert self.engine.handle(e.LLMToken(1, "after"), self.now) == []


EngineMachine.TestCase.settings = settings(
    max_examples=50,
    stateful_step_count=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_engine_keeps_spec_3_under_random_interleavings = EngineMachine.TestCase
