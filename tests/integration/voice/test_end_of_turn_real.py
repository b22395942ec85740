"""Turn-taking with the end-of-turn model on real models: a synthetic speech set (Piper
and espeak-ng) through Silero, PocketSphinx and Smart Turn v3 on a virtual clock.

Complete questions and statements the model calls complete must commit at the level's
floor (the others at its cap); sentences with a 400-900 ms pause in the middle must not
be cut at `medium`; a reply prepared at a pause the user then talks through must never
show. The issue's bar for the cut-offs (at most 5 %) is asserted on the held-out half of
the larger set, which no threshold was chosen on, beside how many of its complete
sentences still commit at the floor (a detector that never commits would cut nobody).
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass

import pytest
from speech_set import RATE, Utterance, speech_set
from turn_model import turn_model_path
from voice_harness import Listening, listening

from openreplica import protocol as p
from openreplica.engine import TURN_WAIT
from openreplica.engine import io as e
from openreplica.plugins.asr_pocketsphinx import PocketSphinxASR
from openreplica.plugins.base import TTS
from openreplica.plugins.scripted import ScriptedLLM, ScriptedTTS
from openreplica.plugins.tts_espeak import EspeakTTS
from openreplica.plugins.tts_piper import PiperTTS
from openreplica.plugins.turn_smart import SmartTurnModel
from openreplica.plugins.vad_silero import SileroVAD


@pytest.fixture(scope="module")
def model() -> SmartTurnModel:
    return SmartTurnModel(turn_model_path())


@pytest.fixture(scope="module")
def utterances() -> list[Utterance]:
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is missing: apt-get install -y espeak-ng", pytrace=False)
    piper = PiperTTS.default(threads=1, noise_scale=0.0, noise_w_scale=0.0)
    piper.load()
    return asyncio.run(speech_set({"piper": piper, "espeak": EspeakTTS()}))


@pytest.fixture(scope="module")
def held_out() -> list[Utterance]:
    """The held-out half of the larger set (20 + 20 sentences per voice)."""
    piper = PiperTTS.default(threads=1, noise_scale=0.0, noise_w_scale=0.0)
    piper.load()
    voices: dict[str, TTS] = {"piper": piper, "espeak": EspeakTTS()}
    return asyncio.run(speech_set(voices, larger=True, held_out_only=True))


@pytest.fixture(scope="module")
def silero() -> SileroVAD:
    return SileroVAD()


@pytest.fixture(scope="module")
def sphinx() -> PocketSphinxASR:
    return PocketSphinxASR()


def spy(h: Listening) -> list[tuple[float, e.EngineInput]]:
    seen: list[tuple[float, e.EngineInput]] = []
    feed = h.runtime.feed

    def recording(item: e.EngineInput) -> None:
        seen.append((h.clock.now(), item))
        feed(item)

    h.runtime.feed = recording  # type: ignore[method-assign]
    return seen


async def run(
    u: Utterance, model: SmartTurnModel | None, silero: SileroVAD, sphinx: PocketSphinxASR
) -> tuple[Listening, list[tuple[float, e.EngineInput]], ScriptedLLM]:
    llm = ScriptedLLM.replies(*(["Sure, happy to help."] * 10))
    h = await listening(
        tts=ScriptedTTS(sample_rate=RATE), llm=llm, vad=silero, asr=sphinx, turn=model
    )
    inputs = spy(h)
    await h.push(u.pcm)
    await h.clock.advance(2.0)
    await h.runtime.shutdown("end_conversation_endpoint_hit")
    return h, inputs, llm


def user_props(h: Listening) -> list[tuple[float, p.UtteranceProps]]:
    return [(t, x.properties) for t, x in h.of(p.Utterance) if x.properties.role == "user"]


def test_the_model_tells_a_complete_question_from_a_clipped_one(
    utterances: list[Utterance], model: SmartTurnModel
) -> None:
    question = next(
        u for u in utterances if u.voice == "piper" and u.text.startswith("Can you book")
    )
    clipped = next(
        u for u in utterances if u.voice == "piper" and u.text.startswith("I would like to book")
    )
    assert clipped.pause is not None
    whole = model.completion_probability(question.pcm[: 2 * round((question.end + 0.15) * RATE)])
    cut = model.completion_probability(clipped.pcm[: 2 * round((clipped.pause[0] + 0.15) * RATE)])
    assert whole > 0.5 > cut, (whole, cut)


async def test_complete_utterances_commit_at_the_floor(
    utterances: list[Utterance], model: SmartTurnModel, silero: SileroVAD, sphinx: PocketSphinxASR
) -> None:
    floor, cap = TURN_WAIT["medium"].floor, TURN_WAIT["medium"].cap
    frame = 512 / RATE
    by_model: dict[str, int] = {"piper": 0, "espeak": 0}
    waited_for_cap: list[str] = []
    for u in [u for u in utterances if not u.hesitant]:
        h, inputs, _ = await run(u, model, silero, sphinx)
        ends = [(t, x) for t, x in inputs if isinstance(x, e.UserSpeechEnded)]
        ((commit_t, props),) = user_props(h)
        confirmed, end = ends[-1]
        # the pause counts from where the sound stopped, at most 0.1 s before the VAD's end
        pause_start = confirmed - end.detected_after
        assert h.t0 + end.media_time - 0.101 <= pause_start <= h.t0 + end.media_time + 0.001
        waited = commit_t - pause_start
        assert props.turn_wait == pytest.approx(waited, abs=0.002)
        if props.turn_decided_by == "model":
            by_model[u.voice] += 1
            # at the floor, or once the detector confirmed the end if that came later
            expected = max(floor, confirmed - pause_start)
            assert waited == pytest.approx(expected, abs=frame), (u.voice, u.text, waited)
        else:
            assert waited == pytest.approx(cap, abs=frame), (u.voice, u.text, waited)
            waited_for_cap.append(f"{u.voice}: {u.text}")
    print(f"complete, waited for the cap: {waited_for_cap}")
    assert h.runtime.turn_stats.decided_by_model + h.runtime.turn_stats.decided_by_silence == 1
    # Measured 9 of 12 (Piper 5 of 6, espeak-ng 4; the cue model's first version 4 and 2):
    # the cue model is strict, so some finished sentences wait for the cap (the price of
    # not cutting pauses, see docs/voice.md). The recogniser's words vary a little with
    # the threads' timing: one sentence of margin.
    assert sum(by_model.values()) >= 8, waited_for_cap
    assert by_model["espeak"] >= 3, waited_for_cap


def cut_off(h: Listening, u: Utterance) -> bool:
    """The replica took the turn during the mid-sentence pause."""
    assert u.pause is not None
    commits = user_props(h)
    return len(commits) != 1 or commits[0][0] - h.t0 < u.pause[1]


async def test_mid_sentence_pauses_are_cut_less_than_by_silence_and_prepared_replies_never_show(
    utterances: list[Utterance], model: SmartTurnModel, silero: SileroVAD, sphinx: PocketSphinxASR
) -> None:
    hesitant = [u for u in utterances if u.hesitant]
    by_model: list[str] = []
    by_silence: list[str] = []
    wasted = 0
    for u in hesitant:
        baseline, _, _ = await run(u, None, silero, sphinx)
        if cut_off(baseline, u):
            by_silence.append(f"{u.voice}: {u.text}")
        h, _, llm = await run(u, model, silero, sphinx)
        if cut_off(h, u):
            by_model.append(f"{u.voice}: {u.text}")
            continue
        ((commit_t, props),) = user_props(h)
        stats = h.runtime.turn_stats
        wasted += stats.preemptive_wasted
        assert stats.preemptive_started == stats.preemptive_used + stats.preemptive_wasted
        # replies prepared at the pause and cancelled: nothing of them reached a client
        replica_ids = {x.inference_id for _, x in h.events if x.inference_id is not None}
        assert len(replica_ids) <= 1, replica_ids
        assert all(t >= commit_t for t, x in h.events if x.inference_id is not None)
        if stats.preemptive_wasted:
            assert llm.calls[0].messages[-1].content != props.speech
        # …and never entered the context: the reply used saw only the user's turn
        used = llm.calls[-1].messages
        assert [m.role for m in used] == ["system", "user"] and used[-1].content == props.speech
    print(f"cut off at medium: model {len(by_model)}/{len(hesitant)} {by_model}")
    print(f"cut off at medium: fixed silence {len(by_silence)}/{len(hesitant)}")
    # Every pause here is longer than the fixed silence; the model must save some.
    # (Smart Turn on synthetic voices is far from the 5 %: see docs/voice.md.)
    assert len(by_model) < len(by_silence), (by_model, by_silence)
    assert wasted >= 1  # the set does exercise a cancelled preemptive reply


@dataclass
class HeldOut:
    cut: list[str]
    hesitant: int
    #: complete utterances the model let commit at the floor (the rest waited for the cap)
    at_floor: int
    complete: int


@pytest.fixture(scope="module")
def held_out_cut_offs(
    held_out: list[Utterance], model: SmartTurnModel, silero: SileroVAD, sphinx: PocketSphinxASR
) -> HeldOut:
    """Every held-out utterance through the model at `medium`: which hesitant ones were
    cut (where a turn was not cut, its prepared replies must not have shown), and how many
    complete ones committed at the floor."""

    async def go() -> HeldOut:
        cut: list[str] = []
        at_floor, floor = 0, TURN_WAIT["medium"].floor
        complete = [u for u in held_out if not u.hesitant]
        for u in complete:
            h, _, _ = await run(u, model, silero, sphinx)
            ((_, props),) = user_props(h)
            # decided by the model, and not held to the cap by a dangling last word
            waited = props.turn_wait
            at_floor += (
                props.turn_decided_by == "model" and waited is not None and waited < floor + 0.05
            )
        hesitant = [u for u in held_out if u.hesitant]
        for u in hesitant:
            h, _, llm = await run(u, model, silero, sphinx)
            if cut_off(h, u):
                cut.append(f"{u.voice}: {u.text}")
                continue
            ((commit_t, props),) = user_props(h)
            assert all(t >= commit_t for t, x in h.events if x.inference_id is not None)
            assert llm.calls[-1].messages[-1].content == props.speech
        return HeldOut(cut, len(hesitant), at_floor, len(complete))

    result = asyncio.run(go())
    print(f"held-out cut off at medium: {len(result.cut)}/{result.hesitant} {result.cut}")
    print(f"held-out complete at the floor: {result.at_floor}/{result.complete}")
    return result


def test_mid_sentence_pauses_are_not_cut_at_medium(held_out_cut_offs: HeldOut) -> None:
    # issue 17's bar; measured 1 of 40 (the cue model's first version: 2; the rule before
    # it: 4-6; the fixed silence: all 40). The recogniser's words at a pause vary a little
    # with the threads' timing; 2 is the bar itself: a third cut fails here.
    assert held_out_cut_offs.hesitant == 40
    assert len(held_out_cut_offs.cut) <= 0.05 * held_out_cut_offs.hesitant, held_out_cut_offs


def test_complete_held_out_utterances_still_commit_at_the_floor(
    held_out_cut_offs: HeldOut,
) -> None:
    # measured 22 of 40 (Piper 15, espeak-ng 7; the cue model's first version also 22;
    # the rule before it: 24): the rest wait for the cap
    assert held_out_cut_offs.complete == 40
    assert held_out_cut_offs.at_floor >= 20, held_out_cut_offs
