"""VoiceInput on scripted VAD/ASR and a virtual clock: timing, pre-roll, failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from voice_harness import RATE, Listening, listening, set_sensitivity

from openreplica import protocol as p
from openreplica.engine import INTERRUPT_MIN_SPEECH, PAUSE_SILENCE, TURN_WAIT
from openreplica.engine import io as e
from openreplica.engine.speech_detector import DetectorSettings
from openreplica.plugins.audio import silence, tone
from openreplica.plugins.base import ASRUnavailable, RunStop, TextDelta, Transcript
from openreplica.plugins.scripted import (
    ScriptedASR,
    ScriptedASRStream,
    ScriptedLLM,
    ScriptedTTS,
    ScriptedVAD,
)
from openreplica.runtime.voice import VoiceSettings

LEVELS = ["superlow", "verylow", "low", "medium", "high"]
VAD_FRAME = 512 / RATE  # the scripted VAD uses silero's window here
DETECTOR = DetectorSettings(min_speech=0.06, min_silence=0.1)


def speech(seconds: float, rate: int = RATE) -> bytes:
    return tone(220.0, seconds, rate, amplitude=0.3)


def quiet(seconds: float, rate: int = RATE) -> bytes:
    return silence(round(seconds * rate))


def stereo(mono: bytes) -> bytes:
    samples = np.frombuffer(mono, dtype="<i2")
    return np.repeat(samples, 2).astype("<i2").tobytes()


async def harness(
    asr: ScriptedASR | None = None, llm: ScriptedLLM | None = None, **kw: Any
) -> Listening:
    return await listening(
        tts=ScriptedTTS(sample_rate=RATE, ms_per_word=200),
        llm=llm or ScriptedLLM.replies("Sure.", "Okay.", "Right."),
        vad=ScriptedVAD(frame_samples=512),
        asr=asr or ScriptedASR(["what time is it", "second", "third"]),
        voice=VoiceSettings(detector=DETECTOR),
        **kw,
    )


async def test_speaking_events_and_the_turn_at_the_right_times_from_48k_stereo() -> None:
    h = await harness(ScriptedASR(["what time is it"], partials=True))
    rate = 48000
    await h.push(stereo(quiet(1.0, rate) + speech(1.0, rate) + quiet(1.5, rate)), rate, channels=2)

    ((start_t, _),) = h.of(p.UserStartedSpeaking)
    ((stop_t, _),) = h.of(p.UserStoppedSpeaking)
    # confirmed after min_speech (2 frames of 32 ms), plus the frame boundary
    assert 1.0 + 0.06 <= start_t - h.t0 <= 1.0 + 3 * VAD_FRAME + 0.02
    assert 2.0 + 0.1 <= stop_t - h.t0 <= 2.0 + 5 * VAD_FRAME + 0.02
    stopped = [x for _, x in h.of(p.StoppedSpeaking) if x.properties.role == "user"]
    assert stopped[0].properties.duration == pytest.approx(1.0, abs=2 * VAD_FRAME)

    ((commit_t, text),) = h.user_utterances()
    assert text == "what time is it"
    # the turn ends the documented pause after the end of speech (within a frame)
    after = commit_t - h.t0 - 2.0
    assert PAUSE_SILENCE["medium"] <= after <= PAUSE_SILENCE["medium"] + VAD_FRAME + 0.02
    # partial captions were streamed, then the final one
    streaming = [x for _, x in h.of(p.UtteranceStreaming) if x.properties.role == "user"]
    assert streaming and streaming[-1].properties.final
    # the reply started
    assert any(isinstance(x, p.ReplicaStartedSpeaking) for _, x in h.events)


async def test_the_recogniser_gets_the_pre_roll_and_the_whole_speech() -> None:
    asr = ScriptedASR(["hello"])
    h = await harness(asr)
    await h.push(quiet(1.0) + speech(1.0) + quiet(1.0))
    stream: ScriptedASRStream = asr.streams[0]
    heard = stream.pushed_samples / RATE
    # the pre-roll + 1 s of speech + the silence that confirmed the end
    preroll = VoiceSettings().preroll
    assert 1.0 + preroll <= heard <= 1.0 + preroll + 0.1 + 3 * VAD_FRAME


@pytest.mark.parametrize("level", LEVELS)
async def test_turn_ends_after_the_documented_silence_and_not_before(level: str) -> None:
    h = await harness()
    set_sensitivity(h, pause=level)
    pause = PAUSE_SILENCE[level]  # type: ignore[index]
    await h.push(quiet(0.5) + speech(1.0))  # speech ends at media time 1.5
    await h.push(quiet(pause - 0.04))
    assert h.user_utterances() == []
    await h.push(quiet(0.04 + VAD_FRAME + 0.02))
    ((commit_t, text),) = h.user_utterances()
    assert text == "what time is it"
    assert pause <= commit_t - h.t0 - 1.5 <= pause + VAD_FRAME + 0.02


@pytest.mark.parametrize("level", LEVELS)
async def test_a_shorter_pause_does_not_end_the_turn(level: str) -> None:
    h = await harness(ScriptedASR(["I would like", "a coffee"]))
    set_sensitivity(h, pause=level)
    pause = PAUSE_SILENCE[level]  # type: ignore[index]
    # a gap shorter than the pause (but long enough to be a VAD gap)
    gap = max(0.15, pause - 0.1)
    await h.push(quiet(0.5) + speech(1.0) + quiet(gap) + speech(0.5) + quiet(pause + 0.2))
    assert len(h.of(p.UserStoppedSpeaking)) == 2  # two speech segments…
    assert [t for _, t in h.user_utterances()] == ["I would like a coffee"]  # …one turn


async def test_barge_in_at_high_sensitivity_stops_the_replica() -> None:
    h = await harness(llm=ScriptedLLM.replies("one two three four five six seven eight nine ten."))
    set_sensitivity(h, interrupt="high")
    h.respond("count")
    await h.push(quiet(0.5))
    assert h.of(p.ReplicaStartedSpeaking)
    onset = h.pushed
    await h.push(speech(0.6) + quiet(0.5))
    ((stop_t, stopped),) = h.of(p.ReplicaStoppedSpeaking)
    assert stopped.properties.interrupted
    # stops when the user has spoken the documented minimum (within a frame or two: the
    # VAD sees the onset at its frame's start)
    late = stop_t - h.t0 - onset
    minimum = INTERRUPT_MIN_SPEECH["high"]
    assert minimum - VAD_FRAME <= late <= minimum + 2 * VAD_FRAME


async def test_a_150ms_burst_does_not_interrupt_at_low_sensitivity() -> None:
    asr = ScriptedASR(["mm hmm"])
    h = await harness(asr, llm=ScriptedLLM.replies("one two three four five six seven eight."))
    set_sensitivity(h, interrupt="low")
    h.respond("count")
    await h.push(quiet(0.5))
    await h.push(speech(0.15) + quiet(3.0))
    assert len(h.of(p.UserStartedSpeaking)) == 1  # it was heard as speech…
    ((_, stopped),) = h.of(p.ReplicaStoppedSpeaking)
    assert not stopped.properties.interrupted
    assert stopped.properties.duration == pytest.approx(8 * 0.2)
    # …and the backchannel starts no turn of its own
    assert [t for _, t in h.user_utterances()] == ["count"]  # the `respond` only
    assert h.runtime.engine.turn_idx == 1


async def test_the_same_burst_interrupts_once_it_is_long_enough() -> None:
    h = await harness(llm=ScriptedLLM.replies("one two three four five six seven eight.", "Yes?"))
    set_sensitivity(h, interrupt="low")
    h.respond("count")
    await h.push(quiet(0.5))
    await h.push(speech(0.9) + quiet(1.0))
    ((_, stopped),) = [x for x in h.of(p.ReplicaStoppedSpeaking)][:1]
    assert stopped.properties.interrupted
    assert [t for _, t in h.user_utterances()] == ["count", "what time is it"]


@pytest.mark.parametrize("stall", [0.2, 0.3])
async def test_a_stalled_loop_does_not_delay_the_end_of_the_turn(stall: float) -> None:
    """The event loop was busy as the speech ended: its audio came late, in a burst.
    The pause counts from when the speech ended, not from when it was analysed."""
    h = await harness()
    pause = PAUSE_SILENCE["medium"]
    await h.push(quiet(0.5) + speech(0.9))
    await h.push_after_stall(speech(0.1) + quiet(stall))  # speech ends at media time 1.5
    assert h.of(p.UserStoppedSpeaking)  # the end was found in the burst
    await h.push(quiet(pause))
    ((commit_t, _),) = h.user_utterances()
    assert pause <= commit_t - h.t0 - 1.5 <= pause + VAD_FRAME + 0.02


async def test_a_stalled_loop_does_not_delay_a_barge_in() -> None:
    h = await harness(llm=ScriptedLLM.replies("one two three four five six seven eight nine ten."))
    h.respond("count")
    await h.push(quiet(0.5))
    onset = h.pushed
    await h.push_after_stall(speech(0.2))  # the onset is confirmed in the burst
    assert h.of(p.UserStartedSpeaking) and not h.of(p.ReplicaStoppedSpeaking)
    await h.push(speech(0.4) + quiet(0.5))
    ((stop_t, stopped),) = h.of(p.ReplicaStoppedSpeaking)
    assert stopped.properties.interrupted
    late = stop_t - h.t0 - onset
    minimum = INTERRUPT_MIN_SPEECH["medium"]
    assert minimum - VAD_FRAME <= late <= minimum + 2 * VAD_FRAME


class FailingStream(ScriptedASRStream):
    fail_push = True
    fail_finish = False

    async def push(self, pcm16k: bytes) -> Transcript | None:
        if self.fail_push:
            raise ASRUnavailable("ASR at http://127.0.0.1:1/v1: cannot connect")
        return await super().push(pcm16k)

    async def finish(self) -> Transcript:
        if self.fail_finish:
            raise RuntimeError("decoder crashed")
        return await super().finish()


class FailingASR(ScriptedASR):
    def __init__(self, transcripts: list[str], modes: list[tuple[bool, bool]]) -> None:
        super().__init__(transcripts)
        self.modes = modes

    def create_stream(self) -> ScriptedASRStream:
        stream = FailingStream(self)
        stream.fail_push, stream.fail_finish = self.modes.pop(0) if self.modes else (False, False)
        self.streams.append(stream)
        return stream


async def test_asr_failure_is_reported_and_the_conversation_carries_on() -> None:
    # 1st stream fails on push, 2nd on finish, 3rd works
    asr = FailingASR(["hello again"], [(True, False), (False, True)])
    h = await harness(asr)
    await h.push(quiet(0.3) + speech(0.8) + quiet(1.0))
    errors = h.errors()
    assert [x.properties.code for x in errors] == ["asr_unavailable"]  # once per segment
    assert "cannot connect" in errors[0].properties.message and errors[0].seq is None
    assert h.user_utterances() == []  # the empty final let the turn end, with no turn
    await h.push(speech(0.8) + quiet(1.0))
    assert [x.properties.code for x in h.errors()] == ["asr_unavailable"] * 2
    assert "decoder crashed" in h.errors()[1].properties.message
    await h.push(speech(0.8) + quiet(1.0))
    assert [t for _, t in h.user_utterances()] == ["hello again"]
    assert all(s.closed for s in asr.streams[:2])  # failed streams were replaced


async def test_shutdown_closes_the_recogniser_and_later_audio_is_ignored() -> None:
    asr = ScriptedASR(["hi"])
    h = await harness(asr)
    await h.push(quiet(0.2) + speech(0.5))
    voice = h.runtime.voice
    assert voice is not None
    await h.runtime.shutdown("end_conversation_endpoint_hit")
    assert asr.streams[0].closed
    h.runtime.push_user_audio(speech(0.5), RATE, 1)  # no error, no effect


async def test_end_of_stream_closes_speech_and_delivers_the_final() -> None:
    h = await harness(ScriptedASR(["cut off"]))
    await h.push(quiet(0.2) + speech(0.5))
    voice = h.runtime.voice
    assert voice is not None and voice.detector.speaking
    voice.end_of_stream()
    await h.clock.advance(PAUSE_SILENCE["medium"] + 0.05)
    assert [t for _, t in h.user_utterances()] == ["cut off"]


async def test_no_voice_path_without_vad_and_asr() -> None:
    h = await listening(
        tts=ScriptedTTS(),
        llm=ScriptedLLM([]),
        vad=None,
        asr=ScriptedASR([]),
    )
    assert h.runtime.voice is None
    h.runtime.push_user_audio(speech(0.5), RATE, 1)


async def test_a_microphone_that_stops_mid_speech_still_ends_the_turn() -> None:
    """The transport calls `end_user_audio` when the mic track ends (muted, hung up)."""
    h = await harness(ScriptedASR(["cut off"]))
    await h.push(quiet(0.3) + speech(0.8))
    assert "conversation.user.started_speaking" in h.names()
    assert "conversation.user.stopped_speaking" not in h.names()
    h.runtime.end_user_audio()
    await h.runtime.voice.drain()  # type: ignore[union-attr]
    await h.clock.advance(PAUSE_SILENCE["medium"] + 0.1)
    assert "conversation.user.stopped_speaking" in h.names()
    assert [text for _, text in h.user_utterances()] == ["cut off"]


async def test_the_latest_guess_goes_out_at_the_first_silent_frame_for_the_prepared_reply() -> None:
    # captions at most every 10 s: only the first silent frame's flush can send the rest
    h = await listening(
        tts=ScriptedTTS(sample_rate=RATE, ms_per_word=200),
        llm=ScriptedLLM.replies("Sure.", "Okay."),
        vad=ScriptedVAD(frame_samples=512),
        asr=ScriptedASR(["what time is it"], partials=True),
        voice=VoiceSettings(detector=DETECTOR, partial_interval=10.0),
    )
    await h.push(quiet(0.5) + speech(1.0) + quiet(1.0))
    kinds = [
        (type(x).__name__, x.properties.speech if isinstance(x, p.UtteranceStreaming) else None)
        for _, x in h.events
        if isinstance(x, (p.UtteranceStreaming, p.UserStoppedSpeaking))
    ]
    # no caption during 1 s of speech, but the whole guess as soon as the speech fell
    # silent, before the end is confirmed
    assert kinds[:2] == [
        ("UtteranceStreaming", "what time is it"),
        ("UserStoppedSpeaking", None),
    ], kinds
    stats = h.runtime.turn_stats
    # the reply prepared on that guess at the pause is the one the turn used
    assert (stats.preemptive_started, stats.preemptive_used, stats.preemptive_wasted) == (1, 1, 0)


class _CompleteTurns:
    """An end-of-turn model that calls every turn complete."""

    name = "scripted"

    def completion_probability(self, pcm16k: bytes, stop: RunStop | None = None) -> float:
        return 0.9

    def sentence_end_probability(self, text: str) -> float | None:
        return None


class _WatchedASR(ScriptedASR):
    """Records, at each final pass, whether the detector still counted the user as
    speaking (the end not confirmed yet) and how much audio the recogniser had."""

    def __init__(self, transcripts: list[str], *, partials: bool = False) -> None:
        super().__init__(transcripts, partials=partials)
        self.h: Listening | None = None
        self.finishes: list[tuple[bool, float]] = []
        self.finish_times: list[float] = []

    def create_stream(self) -> ScriptedASRStream:
        stream = super().create_stream()
        finish = stream.finish

        async def watched() -> Transcript:
            assert self.h is not None and self.h.runtime.voice is not None
            speaking = self.h.runtime.voice.detector.speaking
            self.finishes.append((speaking, stream.pushed_samples / RATE))
            self.finish_times.append(self.h.clock.now())
            return await finish()

        stream.finish = watched  # type: ignore[method-assign]
        return stream


async def _with_turn_model(asr: _WatchedASR, **voice: Any) -> tuple[Listening, list[e.EngineInput]]:
    h = await listening(
        tts=ScriptedTTS(sample_rate=RATE, ms_per_word=200),
        llm=ScriptedLLM.replies("Sure.", "Okay."),
        vad=ScriptedVAD(frame_samples=512),
        asr=asr,
        voice=VoiceSettings(detector=DETECTOR, **voice),
        turn=_CompleteTurns(),
    )
    asr.h = h
    return h, h.record_inputs()


async def test_with_the_turn_model_the_final_pass_runs_before_the_end_is_confirmed() -> None:
    asr = _WatchedASR(["what time is it"])
    h, seen = await _with_turn_model(asr)
    await h.push(quiet(0.5) + speech(1.0) + quiet(1.0))
    # one final pass, while the detector was still confirming the end, on the speech
    # and its first two silent frames (not the rest of the silence that confirmed it)
    ((speaking, heard),) = asr.finishes
    assert speaking
    preroll = VoiceSettings().preroll
    assert 1.0 + preroll <= heard <= 1.0 + preroll + 4 * VAD_FRAME  # 4 silent frames confirm
    finals = [x for x in seen if isinstance(x, e.UserTranscript) and x.final]
    assert [x.text for x in finals] == ["what time is it"]
    ((commit_t, text),) = h.user_utterances()
    assert text == "what time is it"
    # the model called it complete: the turn commits at the floor after the speech
    assert TURN_WAIT["medium"].floor <= commit_t - h.t0 - 1.5 <= TURN_WAIT["medium"].floor + 0.05


async def test_speech_that_resumes_after_an_early_final_is_decoded_again_whole() -> None:
    # the early pass at the dip gives "what time"; the segment's final is the second pass
    asr = _WatchedASR(["what time", "what time is it"])
    h, seen = await _with_turn_model(asr)
    # 100 ms under the VAD: two or three silent frames, fewer than the four that end speech
    await h.push(quiet(0.5) + speech(0.6) + quiet(0.1) + speech(0.6) + quiet(1.0))
    assert [speaking for speaking, _ in asr.finishes] == [True, True]
    # once the speech resumed, the recogniser heard the segment again from its start
    # (pre-roll, both pieces of speech and the dip) on top of what it had heard
    first, second = (heard for _, heard in asr.finishes)
    assert second >= first + 1.27
    assert len(h.of(p.UserStoppedSpeaking)) == 1
    finals = [x for x in seen if isinstance(x, e.UserTranscript) and x.final]
    assert [x.text for x in finals] == ["what time is it"]
    assert [text for _, text in h.user_utterances()] == ["what time is it"]


async def test_without_the_setting_the_final_pass_waits_for_the_confirmed_end() -> None:
    asr = _WatchedASR(["what time is it"])
    h, _ = await _with_turn_model(asr, early_final=False)
    await h.push(quiet(0.5) + speech(1.0) + quiet(1.0))
    ((speaking, _),) = asr.finishes
    assert not speaking
    assert [text for _, text in h.user_utterances()] == ["what time is it"]


@pytest.mark.parametrize("from_sound", [True, False])
async def test_the_pause_counts_from_where_the_sound_stopped(from_sound: bool) -> None:
    # a VAD that still hears a tail 40 dB under the speech (as Silero's probability
    # decays after the last sound): its first silent frame starts ~0.1 s late
    h = await listening(
        tts=ScriptedTTS(sample_rate=RATE, ms_per_word=200),
        llm=ScriptedLLM.replies("Sure."),
        vad=ScriptedVAD(lambda level: 1.0 if level >= 0.001 else 0.0, frame_samples=512),
        asr=ScriptedASR(["what time is it"]),
        voice=VoiceSettings(detector=DETECTOR, pause_from_audible_end=from_sound),
    )
    tail = tone(220.0, 0.096, RATE, amplitude=0.003)
    await h.push(quiet(0.5) + speech(1.0) + tail + quiet(1.0))
    ((commit_t, _),) = h.user_utterances()
    after = commit_t - h.t0 - 1.5  # from the end of the loud speech
    if from_sound:
        assert PAUSE_SILENCE["medium"] - 0.002 <= after <= PAUSE_SILENCE["medium"] + 0.02
    else:  # from the VAD's first silent frame, after the tail
        assert PAUSE_SILENCE["medium"] + 0.096 <= after <= PAUSE_SILENCE["medium"] + 0.096 + 0.05


class _SlowLLM:
    """Says "Sure, happy to help." `delay` virtual seconds after it is called (never, with
    None), noting when."""

    name = "slow"

    def __init__(self, delay: float | None) -> None:
        self.delay = delay
        self.h: Listening | None = None
        self.calls: list[float] = []

    async def stream(self, messages: Any, tools: Any = ()) -> AsyncIterator[TextDelta]:
        assert self.h is not None
        clock = self.h.clock
        self.calls.append(clock.now())
        if self.delay is None:
            await asyncio.Event().wait()
        else:
            await clock.sleep_until(clock.now() + self.delay)
        for word in ("Sure,", " happy", " to", " help."):
            yield TextDelta(word)


class _NotedTTS(ScriptedTTS):
    def __init__(self) -> None:
        super().__init__(sample_rate=RATE, ms_per_word=200)
        self.h: Listening | None = None
        self.calls: list[tuple[float, str]] = []

    async def synthesize(self, text: str) -> Any:
        assert self.h is not None
        self.calls.append((self.h.clock.now(), text))
        async for chunk in super().synthesize(text):
            yield chunk


async def _with_slow_reply(
    delay: float | None, *, holds_loop: bool = True, **voice: Any
) -> tuple[Listening, _WatchedASR, _SlowLLM, _NotedTTS]:
    # partial guesses: the reply is prepared at the first silent frame, before the final
    asr, llm, tts = _WatchedASR(["what time is it"], partials=True), _SlowLLM(delay), _NotedTTS()
    asr.finish_holds_loop = holds_loop  # as PocketSphinx in this process (or in a worker)
    h = await listening(
        tts=tts,
        llm=llm,
        vad=ScriptedVAD(frame_samples=512),
        asr=asr,
        voice=VoiceSettings(detector=DETECTOR, **voice),
        turn=_CompleteTurns(),
    )
    asr.h = llm.h = tts.h = h
    return h, asr, llm, tts


async def test_the_early_final_pass_lets_the_prepared_reply_reach_the_tts_first() -> None:
    # the prepared reply's LLM answers 30 ms after the first silent frame (when the final
    # pass is due): the final pass (which holds the event loop in real life) waits for
    # the reply's first words to be at the TTS (at most 40 ms)
    h, asr, llm, tts = await _with_slow_reply(0.03)
    await h.push(quiet(0.5) + speech(1.0) + quiet(1.0))
    (called,) = llm.calls
    first_words_at, first_words = tts.calls[0]
    assert first_words == "Sure,"  # the reply's first clause, on its own
    (finish_at,) = asr.finish_times
    assert called + 0.03 - 1e-6 <= first_words_at <= finish_at <= called + 0.03 + 1e-6
    ((speaking, _),) = asr.finishes
    assert speaking  # still before the end was confirmed
    assert [text for _, text in h.user_utterances()] == ["what time is it"]


async def test_an_llm_that_does_not_answer_holds_the_final_pass_only_so_long() -> None:
    finished = []
    for head_start in (0.0, 0.05):
        h, asr, llm, _ = await _with_slow_reply(None, reply_head_start=head_start)
        await h.push(quiet(0.5) + speech(1.0) + quiet(1.0))
        assert len(llm.calls) == 1
        (finish_at,) = asr.finish_times
        finished.append(finish_at - h.t0)
        ((speaking, _),) = asr.finishes
        assert speaking
        ((commit_t, text),) = h.user_utterances()
        assert text == "what time is it"
        assert commit_t - h.t0 - 1.5 <= TURN_WAIT["medium"].floor + 0.05
        await h.runtime.shutdown("end_conversation_endpoint_hit")
    without, held = finished
    assert without + 0.05 - 1e-6 <= held <= without + 0.05 + 0.021  # (the 20 ms steps)


async def test_without_a_head_start_the_final_pass_does_not_wait_for_the_reply() -> None:
    h, asr, _, tts = await _with_slow_reply(0.06, reply_head_start=0.0)
    await h.push(quiet(0.5) + speech(1.0) + quiet(1.0))
    (finish_at,) = asr.finish_times
    assert finish_at < tts.calls[0][0]


async def test_a_final_pass_that_leaves_the_loop_free_does_not_wait_for_the_reply() -> None:
    # PocketSphinx in a worker process: the TTS runs during the final pass anyway
    h, asr, _, tts = await _with_slow_reply(0.06, holds_loop=False)
    await h.push(quiet(0.5) + speech(1.0) + quiet(1.0))
    (finish_at,) = asr.finish_times
    assert finish_at < tts.calls[0][0]
