"""The end-of-turn scorer beside the VAD, with a scripted model: which audio it scores,
that it scores off the event loop's thread, and what a failing model gives."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import numpy as np
import pytest
from eventually import eventually

from openreplica.engine import io as e
from openreplica.plugins.base import RunStop, RunStopped
from openreplica.plugins.turn_cues import CueWeights, TurnCues, natural_voice
from openreplica.plugins.turn_cues_weights import TURN_CUES
from openreplica.plugins.turn_prosody import prosody_features
from openreplica.runtime.turn_scoring import TurnScorer

FRAME = 0.032
SAMPLES = 512


class Scripted:
    name = "scripted"

    def __init__(
        self, answer: float | Exception = 0.9, ends: dict[str, float] | None = None
    ) -> None:
        self.answer = answer
        self.ends = ends or {}  # the language model's P(end of sentence) per turn text
        self.seen: list[bytes] = []
        self.threads: list[int] = []
        self.texts: list[str] = []

    def completion_probability(self, pcm16k: bytes, stop: RunStop | None = None) -> float:
        self.seen.append(pcm16k)
        self.threads.append(threading.get_ident())
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    def sentence_end_probability(self, text: str) -> float | None:
        self.texts.append(text)
        return self.ends.get(text)


def frame(k: int) -> bytes:
    return bytes([k % 256]) * (2 * SAMPLES)


def push(scorer: TurnScorer, first: int, last: int) -> None:
    for k in range(first, last):
        scorer.frame(k * FRAME, frame(k))


async def test_a_pause_is_scored_on_the_turn_audio_in_a_worker_thread() -> None:
    model, fed = Scripted(0.87), list[e.EngineInput]()
    scorer = TurnScorer(model, fed.append, FRAME, preroll=0.064, turn_gap=1.0)
    push(scorer, 0, 50)  # 1.6 s of silence before the speech
    scorer.speech_started(50 * FRAME)
    push(scorer, 50, 80)
    scorer.speech_ended(78 * FRAME)
    scorer.final_transcript("hello")
    await scorer.drain()
    assert fed == [e.TurnScored(78 * FRAME, 0.87)]
    # from two frames before the onset (the pre-roll) to the frame that confirmed the end
    assert model.seen == [b"".join(frame(k) for k in range(48, 80))]
    assert model.threads[0] != threading.get_ident()


async def test_speech_after_a_short_pause_is_the_same_turn() -> None:
    model, fed = Scripted(0.2), list[e.EngineInput]()
    scorer = TurnScorer(model, fed.append, FRAME, preroll=0.0, turn_gap=1.0)
    scorer.speech_started(10 * FRAME)
    push(scorer, 10, 30)
    scorer.speech_ended(28 * FRAME)
    scorer.final_transcript("hello")
    push(scorer, 30, 45)  # 0.5 s pause, under the gap
    scorer.speech_started(45 * FRAME)
    push(scorer, 45, 60)
    scorer.speech_ended(58 * FRAME)
    scorer.final_transcript("hello")
    await scorer.drain()
    assert [x.speech_end for x in fed if isinstance(x, e.TurnScored)] == [28 * FRAME, 58 * FRAME]
    assert all(isinstance(x, e.TurnScored) for x in fed)
    # the second decision heard the whole turn (the two ran in worker threads, either first)
    assert b"".join(frame(k) for k in range(10, 60)) in model.seen


async def test_decisions_reach_the_engine_in_the_order_the_speech_ended() -> None:
    """The second segment's words decide it at once while the first is still in the
    model: its decision waits for the first's."""
    gate, running = threading.Event(), threading.Event()

    class Slow(Scripted):
        def completion_probability(self, pcm16k: bytes, stop: RunStop | None = None) -> float:
            running.set()
            gate.wait(5)
            return super().completion_probability(pcm16k, stop)

    model, fed = (
        Slow(0.9, ends={"hello": 0.5, "hello i would like a": 0.002}),
        list[e.EngineInput](),
    )
    scorer = TurnScorer(model, fed.append, FRAME, preroll=0.0, turn_gap=1.0, cues=None)
    scorer.speech_started(0.0)
    push(scorer, 0, 20)
    scorer.speech_ended(18 * FRAME)  # no early decision: the model runs now
    scorer.final_transcript("hello")
    await eventually(running.is_set, timeout=5, message="the model running in its thread")
    scorer.speech_started(22 * FRAME)
    push(scorer, 20, 40)
    scorer.speech_ending(38 * FRAME, "i would like a")  # the words say "not finished"
    scorer.speech_ended(38 * FRAME)
    scorer.final_transcript("i would like a")
    await eventually(
        lambda: model.texts.count("hello i would like a") == 2,
        message="the second segment decided by its final's words",
    )
    gate.set()
    await scorer.drain()
    assert fed == [e.TurnScored(18 * FRAME, 0.9), e.TurnScored(38 * FRAME, 0.002)]


async def test_the_window_holds_at_most_eight_seconds() -> None:
    model, fed = Scripted(), list[e.EngineInput]()
    scorer = TurnScorer(model, fed.append, FRAME, preroll=0.0)
    scorer.speech_started(0.0)
    push(scorer, 0, 400)  # 12.8 s of speech
    scorer.speech_ended(399 * FRAME)
    scorer.final_transcript("hello")
    await scorer.drain()
    assert len(model.seen[0]) // 2 <= 8 * 16000 + 2 * SAMPLES


async def test_a_failing_model_leaves_the_decision_to_the_silence(
    caplog: pytest.LogCaptureFixture,
) -> None:
    model, fed = Scripted(RuntimeError("boom")), list[e.EngineInput]()
    scorer = TurnScorer(model, fed.append, FRAME)
    scorer.speech_started(0.0)
    push(scorer, 0, 20)
    scorer.speech_ended(18 * FRAME)
    scorer.final_transcript("hello")
    await scorer.drain()
    assert fed == [e.TurnScored(18 * FRAME, None)]
    assert "end-of-turn model scripted failed" in caplog.text


async def test_closing_cancels_a_decision_under_way() -> None:
    gate, running, returned = threading.Event(), threading.Event(), threading.Event()

    class Slow(Scripted):
        def completion_probability(self, pcm16k: bytes, stop: RunStop | None = None) -> float:
            running.set()
            gate.wait(5)
            returned.set()
            return 0.5

    fed: list[e.EngineInput] = []
    scorer = TurnScorer(Slow(), fed.append, FRAME)
    scorer.speech_started(0.0)
    push(scorer, 0, 5)
    scorer.speech_ended(4 * FRAME)
    scorer.final_transcript("hello")
    await eventually(running.is_set, timeout=5, message="the model running in its thread")
    await scorer.aclose()
    gate.set()
    assert returned.wait(5)
    for _ in range(10):  # let the thread's result reach the loop, were anyone waiting
        await asyncio.sleep(0)
    assert fed == []


async def test_the_decision_starts_at_the_first_silent_frame() -> None:
    model, fed = Scripted(0.9), list[e.EngineInput]()
    scorer = TurnScorer(model, fed.append, FRAME, preroll=0.0, cues=None)
    scorer.speech_started(0.0)
    push(scorer, 0, 20)
    scorer.speech_ending(20 * FRAME)  # the first silent frame: scoring starts
    push(scorer, 20, 24)
    scorer.speech_ended(20 * FRAME)  # confirmed: no second decision
    scorer.final_transcript("hello")
    await scorer.drain()
    assert fed == [e.TurnScored(20 * FRAME, 0.9)]
    assert model.seen == [b"".join(frame(k) for k in range(0, 20))]


async def test_an_early_decision_is_dropped_when_the_speech_resumes() -> None:
    model, fed = Scripted(0.9), list[e.EngineInput]()
    scorer = TurnScorer(model, fed.append, FRAME, preroll=0.0, cues=None)
    scorer.speech_started(0.0)
    push(scorer, 0, 20)
    scorer.speech_ending(20 * FRAME)
    push(scorer, 20, 22)
    scorer.speech_resumed()  # a stop consonant, not a pause
    push(scorer, 22, 40)
    scorer.speech_ending(40 * FRAME)
    push(scorer, 40, 44)
    scorer.speech_ended(40 * FRAME)
    scorer.final_transcript("hello")
    await scorer.drain()
    assert fed == [e.TurnScored(40 * FRAME, 0.9)]
    # the moot decision was cancelled before it reached the model
    assert len(model.seen) == 1 and len(model.seen[0]) == 40 * 2 * SAMPLES


class _FirstRunBlocks(Scripted):
    """Its first run does not return until released."""

    def __init__(self) -> None:
        super().__init__(0.9)
        self.release = threading.Event()
        self.runs = 0

    def completion_probability(self, pcm16k: bytes, stop: RunStop | None = None) -> float:
        self.runs += 1
        if self.runs == 1:
            self.release.wait(10.0)
        return super().completion_probability(pcm16k, stop)


async def _early_run_under_way(
    model: Scripted, started: Callable[[], object]
) -> tuple[TurnScorer, list[e.EngineInput]]:
    """A scorer whose early decision, at a pause after 20 frames of speech, is in the
    model (`started` says when)."""
    fed: list[e.EngineInput] = []
    scorer = TurnScorer(model, fed.append, FRAME, preroll=0.0, cues=None)
    scorer.speech_started(0.0)
    push(scorer, 0, 20)
    scorer.speech_ending(20 * FRAME)
    await eventually(started, message="the early run never started")
    return scorer, fed


async def test_a_moot_early_decision_does_not_hold_up_the_next_one() -> None:
    model = _FirstRunBlocks()
    scorer, fed = await _early_run_under_way(model, lambda: model.runs)
    push(scorer, 20, 22)
    scorer.speech_resumed()  # that run's answer is moot now
    push(scorer, 22, 40)
    scorer.speech_ending(40 * FRAME)
    push(scorer, 40, 44)
    scorer.speech_ended(40 * FRAME)
    scorer.final_transcript("hello")
    try:
        # decided while the moot run is still inside the model
        await eventually(lambda: fed, message="the decision waited for a moot run")
        assert fed == [e.TurnScored(40 * FRAME, 0.9)]
        assert model.runs == 2
    finally:
        model.release.set()
    await scorer.drain()


class _RunsUntilStopped(Scripted):
    """Each run goes on until its stop is set (at most 10 s), then gives up."""

    def __init__(self) -> None:
        super().__init__(0.9)
        self.started = threading.Event()
        self.outcomes: list[str] = []

    def completion_probability(self, pcm16k: bytes, stop: RunStop | None = None) -> float:
        self.started.set()
        stopped = threading.Event()
        if stop is not None:
            stop.on_stop(stopped.set)
        if stopped.wait(10.0):
            self.outcomes.append("stopped")
            raise RunStopped("stopped")
        self.outcomes.append("ran out")
        return super().completion_probability(pcm16k, stop)


async def test_a_moot_early_decision_stops_its_run_in_the_worker_thread() -> None:
    model = _RunsUntilStopped()
    scorer, fed = await _early_run_under_way(model, model.started.is_set)
    scorer.speech_resumed()  # its answer is moot: the thread is told to stop, not left
    await eventually(lambda: model.outcomes, message="the moot run was never stopped")
    assert model.outcomes == ["stopped"]
    await scorer.drain()
    assert fed == []  # nothing was decided for a pause that was not one


def test_a_run_stop_calls_each_hook_once_even_when_registered_late() -> None:
    stop, calls = RunStop(), list[str]()
    stop.on_stop(lambda: calls.append("early"))
    assert not stop.stopped and calls == []
    stop.stop()
    stop.stop()
    assert stop.stopped and calls == ["early"]
    stop.on_stop(lambda: calls.append("late"))  # the run began after the stop
    assert calls == ["early", "late"]


async def test_a_transcript_that_stops_mid_sentence_makes_the_turn_incomplete() -> None:
    # the audio sounds finished; the words say the sentence goes on (the rule without the
    # cue model, and its fallback when the prosody cannot be measured)
    model = Scripted(0.95, ends={"i would like a": 0.002, "i would like a coffee": 0.3})
    fed: list[e.EngineInput] = []
    scorer = TurnScorer(model, fed.append, FRAME, preroll=0.0, turn_gap=1.0, cues=None)
    scorer.speech_started(0.0)
    push(scorer, 0, 20)
    scorer.speech_ended(18 * FRAME)
    await eventually(lambda: model.seen, timeout=5, message="the audio model scoring the pause")
    assert fed == []  # the decision waits for the segment's final transcript
    scorer.final_transcript("i would like a")
    await scorer.drain()
    assert fed == [e.TurnScored(18 * FRAME, 0.002)]
    push(scorer, 20, 30)  # a 0.3 s pause: the same turn goes on
    scorer.speech_started(30 * FRAME)
    push(scorer, 30, 45)
    scorer.speech_ended(43 * FRAME)
    scorer.final_transcript("coffee")
    await scorer.drain()
    assert fed[1:] == [e.TurnScored(43 * FRAME, 0.95)]  # judged on the turn's words
    assert model.texts == ["i would like a", "i would like a coffee"]


def buzz(seconds: float, f0: float = 120.0) -> bytes:
    """A voiced sound (harmonics of `f0`) in syllables of 150 ms, then 0.1 s of silence."""
    t = np.arange(round(seconds * 16000)) / 16000
    wave = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 10))
    wave = wave * (np.sin(np.pi * t / 0.15) ** 2)
    x = np.concatenate([0.2 * wave, np.zeros(1600)])
    return (x * 32767).astype("<i2").tobytes()


async def test_with_the_cue_model_audio_words_and_prosody_decide_together() -> None:
    # a cue model that listens to the words only: P = sigmoid(log P(end | last two words)
    # + log P(end | last word))
    words_only = TurnCues(CueWeights((0.0,) * 5, (1.0,) * 5, (1.0, 1.0, 0.0, 0.0, 0.0), 0.0))
    model = Scripted(0.95, ends={"i would like a coffee": 0.3, "coffee": 0.2})
    fed: list[e.EngineInput] = []
    scorer = TurnScorer(model, fed.append, FRAME, preroll=0.0, turn_gap=1.0, cues=words_only)
    speech = buzz(1.5)
    frames = [speech[i : i + 2 * SAMPLES] for i in range(0, len(speech), 2 * SAMPLES)]
    scorer.speech_started(0.0)
    for k, pcm in enumerate(frames):
        scorer.frame(k * FRAME, pcm)
    scorer.speech_ended((len(frames) - 1) * FRAME)
    scorer.final_transcript("i would like a coffee")
    await scorer.drain()
    ((scored,),) = [[x for x in fed if isinstance(x, e.TurnScored)]]
    assert scored.speech_end == (len(frames) - 1) * FRAME
    assert scored.probability == pytest.approx(0.06 / 1.06)
    assert model.texts[-1] == "coffee"  # the last word alone


async def test_the_packaged_cue_model_is_on_by_default() -> None:
    model = Scripted(0.95, ends={"thank you very much": 0.4, "much": 0.25})
    fed = list[e.EngineInput]()
    scorer = TurnScorer(model, fed.append, FRAME, preroll=0.0, turn_gap=1.0)
    speech = buzz(1.5)
    for k, i in enumerate(range(0, len(speech), 2 * SAMPLES)):
        scorer.frame(k * FRAME, speech[i : i + 2 * SAMPLES])
    scorer.speech_started(0.0)
    scorer.speech_ended(1.5)
    scorer.final_transcript("thank you very much")
    await scorer.drain()
    ((scored,),) = [[x for x in fed if isinstance(x, e.TurnScored)]]
    prosody = prosody_features(b"".join(model.seen))
    assert prosody is not None
    assert scored.probability == pytest.approx(TURN_CUES.probability(0.95, 0.4, 0.25, prosody))


async def test_the_model_is_not_run_when_the_guess_already_says_the_turn_goes_on() -> None:
    model = Scripted(0.95, ends={"i would like a": 0.002})
    fed: list[e.EngineInput] = []
    scorer = TurnScorer(model, fed.append, FRAME, preroll=0.0, cues=None)
    scorer.speech_started(0.0)
    push(scorer, 0, 20)
    scorer.speech_ending(20 * FRAME, "i would like a")  # the recogniser's guess then
    push(scorer, 20, 24)
    scorer.speech_ended(20 * FRAME)
    scorer.final_transcript("i would like a")
    await scorer.drain()
    assert fed == [e.TurnScored(20 * FRAME, 0.002)]  # the words decided: no audio run
    assert model.seen == []


async def test_when_the_final_reads_finished_after_all_the_model_runs_then() -> None:
    model = Scripted(0.9, ends={"i would like a": 0.002, "i would like a coffee": 0.3})
    fed: list[e.EngineInput] = []
    scorer = TurnScorer(model, fed.append, FRAME, preroll=0.0, cues=None)
    scorer.speech_started(0.0)
    push(scorer, 0, 20)
    scorer.speech_ending(20 * FRAME, "i would like a")
    push(scorer, 20, 24)
    scorer.speech_ended(20 * FRAME)
    assert model.seen == []
    scorer.final_transcript("i would like a coffee")
    await scorer.drain()
    assert fed == [e.TurnScored(20 * FRAME, 0.9)]
    # on the audio it would have heard at the first silent frame (the model's verdict
    # depends on how much silence follows the speech)
    assert model.seen == [b"".join(frame(k) for k in range(0, 20))]


async def test_a_turn_whose_words_stop_on_a_dangling_word_is_incomplete() -> None:
    model = Scripted(0.95, ends={"what is it for": 0.4})  # the LM alone would let it end
    fed: list[e.EngineInput] = []
    scorer = TurnScorer(model, fed.append, FRAME, preroll=0.0, cues=None)
    scorer.speech_started(0.0)
    push(scorer, 0, 20)
    scorer.speech_ending(20 * FRAME, "what is it for")
    push(scorer, 20, 24)
    scorer.speech_ended(20 * FRAME)
    scorer.final_transcript("what is it for")
    await scorer.drain()
    assert fed == [e.TurnScored(20 * FRAME, 0.0)] and model.seen == []


def natural_buzz(seconds: float) -> bytes:
    """`buzz`'s syllables with a pitch that wanders by ~1 semitone per 15 ms, as a human
    voice's does (pitch jitter ~0.5: the cue model believes the audio model fully)."""
    t = np.arange(round(seconds * 16000)) / 16000
    steps = 2 ** (np.random.default_rng(1).standard_normal(t.size // 240 + 1) / 12)
    phase = 2 * np.pi * np.cumsum(120.0 * np.repeat(steps, 240)[: t.size]) / 16000
    wave = sum(np.sin(k * phase) / k for k in range(1, 10)) * (np.sin(np.pi * t / 0.15) ** 2)
    return (np.concatenate([0.2 * wave, np.zeros(1600)]) * 32767).astype("<i2").tobytes()


#: the words and a bias decide, the audio model's clipped logit (+-4) moves z by +-1
def words_and_audio(bias: float) -> TurnCues:
    return TurnCues(CueWeights((0.0,) * 5, (1.0,) * 5, (1.0, 1.0, 0.25, 0.0, 0.0), bias))


async def pause_with_guess(
    cues: TurnCues, model: Scripted, speech: bytes, guess: str, final: str
) -> tuple[list[e.EngineInput], float, bytes]:
    """A turn of `speech` scored with `cues`, the recogniser's `guess` at its first
    silent frame and its `final` transcript: (what was fed, the end of speech, the audio
    up to the first silent frame)."""
    fed: list[e.EngineInput] = []
    scorer = TurnScorer(model, fed.append, FRAME, preroll=0.0, cues=cues)
    frames = [speech[i : i + 2 * SAMPLES] for i in range(0, len(speech), 2 * SAMPLES)]
    end = len(frames) * FRAME
    scorer.speech_started(0.0)
    for k, pcm in enumerate(frames):
        scorer.frame(k * FRAME, pcm)
    scorer.speech_ending(end, guess)
    scorer.frame(end, bytes(2 * SAMPLES))
    scorer.speech_ended(end)
    scorer.final_transcript(final)
    await scorer.drain()
    return fed, end, b"".join(frames)


THANKS = {"thank you very much": 0.9, "much": 0.9}


async def test_the_model_is_not_run_when_the_words_and_the_prosody_settle_the_verdict() -> None:
    # z = 2 + 2 log 0.9 = 1.79, +-1 by the audio: complete whatever the model would say
    cues, model = words_and_audio(2.0), Scripted(0.01, ends=THANKS)
    fed, end, audio = await pause_with_guess(
        cues, model, natural_buzz(1.5), "thank you very much", "thank you very much"
    )
    assert model.seen == []
    prosody = prosody_features(audio)
    assert prosody is not None and natural_voice(prosody) == 1.0
    # the bound nearest the decision point: what the least favourable audio would give
    lowest = cues.probability(0.0, 0.9, 0.9, prosody)
    assert lowest is not None and lowest >= 0.5
    assert fed == [e.TurnScored(end, lowest)]


@pytest.mark.parametrize(
    ("voice", "runs"),
    [
        (natural_buzz, True),
        # in a voice as smooth as espeak-ng's the cue model does not count the audio
        # model at all: the same open verdict needs no run
        (buzz, False),
    ],
)
async def test_the_model_is_run_when_it_could_tip_the_verdict(
    voice: Callable[[float], bytes], runs: bool
) -> None:
    cues, model = words_and_audio(0.2), Scripted(0.95, ends=THANKS)  # z = -0.01, +-1
    fed, end, audio = await pause_with_guess(
        cues, model, voice(1.5), "thank you very much", "thank you very much"
    )
    assert model.seen == ([audio] if runs else [])
    prosody = prosody_features(audio)
    assert prosody is not None
    assert fed == [e.TurnScored(end, cues.probability(0.95, 0.9, 0.9, prosody))]


async def test_when_the_guess_settles_it_and_the_final_does_not_the_model_runs_then() -> None:
    cues = words_and_audio(2.0)
    model = Scripted(0.95, ends={**THANKS, "thank you so much": 0.15})
    fed, end, audio = await pause_with_guess(
        cues, model, natural_buzz(1.5), "thank you very much", "thank you so much"
    )
    # z = 2 + log 0.15 + log 0.9 = 0.00: the final's words leave it to the audio model,
    # which hears the audio of the first silent frame
    assert model.seen == [audio]
    prosody = prosody_features(audio)
    assert prosody is not None
    assert fed == [e.TurnScored(end, cues.probability(0.95, 0.15, 0.9, prosody))]
