"""The voice path on the real offline models: Piper speaks the user's question, Silero
(or webrtcvad) finds it, PocketSphinx transcribes it while it is spoken, and the
runtime on a virtual clock takes the turn and starts the reply (scripted LLM and TTS).

Piper, Silero and the test audio are built once per module.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np
import pytest
from voice_harness import RATE, Listening, listening, set_sensitivity

from openreplica import protocol as p
from openreplica.engine import INTERRUPT_MIN_SPEECH, PAUSE_SILENCE
from openreplica.engine import io as e
from openreplica.plugins.asr_pocketsphinx import PocketSphinxASR
from openreplica.plugins.audio import float_to_pcm16, pcm16_to_float, resample, silence
from openreplica.plugins.base import VADModel
from openreplica.plugins.scripted import ScriptedLLM, ScriptedTTS
from openreplica.plugins.tts_piper import PiperTTS
from openreplica.plugins.vad_silero import SileroVAD
from openreplica.plugins.vad_webrtc import WebRtcVAD

QUESTION = "What is the weather like in London today?"
KEYWORDS = ("weather", "london", "today")
LEAD, TAIL = 1.0, 1.5  # seconds of low noise around the speech


@dataclass(frozen=True)
class Spoken:
    """Speech at 16 kHz padded with low noise; where the speech is audible."""

    pcm: bytes
    start: float
    end: float

    @property
    def duration(self) -> float:
        return len(self.pcm) / 2 / RATE


def pad(speech: bytes, lead: float, tail: float, seed: int = 1) -> Spoken:
    level = np.abs(pcm16_to_float(speech))
    audible = np.flatnonzero(level > 0.02)
    padded = silence(round(lead * RATE)) + speech + silence(round(tail * RATE))
    noise = np.random.default_rng(seed).normal(0.0, 0.003, len(padded) // 2)
    pcm = float_to_pcm16(pcm16_to_float(padded) + noise)
    return Spoken(pcm, lead + audible[0] / RATE, lead + audible[-1] / RATE)


@pytest.fixture(scope="module")
def piper() -> PiperTTS:
    # no sampling noise: the same audio every run
    tts = PiperTTS.default(threads=1, noise_scale=0.0, noise_w_scale=0.0)
    tts.load()
    return tts


def say(piper: PiperTTS, text: str) -> bytes:
    async def run() -> bytes:
        return b"".join([c.pcm async for c in piper.synthesize(text)])

    return resample(asyncio.run(run()), piper.sample_rate, RATE)


@pytest.fixture(scope="module")
def question(piper: PiperTTS) -> Spoken:
    return pad(say(piper, QUESTION), LEAD, TAIL)


@pytest.fixture(scope="module")
def okay(piper: PiperTTS) -> bytes:
    return say(piper, "Okay.")


@pytest.fixture(scope="module")
def silero() -> SileroVAD:
    return SileroVAD()


@pytest.fixture(scope="module")
def sphinx() -> PocketSphinxASR:
    return PocketSphinxASR()


def record_edges(h: Listening) -> list[e.UserSpeechStarted | e.UserSpeechEnded]:
    """Spy on the speech edges the voice path feeds the engine."""
    edges: list[e.UserSpeechStarted | e.UserSpeechEnded] = []
    feed = h.runtime.feed

    def spy(item: e.EngineInput) -> None:
        if isinstance(item, e.UserSpeechStarted | e.UserSpeechEnded):
            edges.append(item)
        feed(item)

    h.runtime.feed = spy  # type: ignore[method-assign]
    return edges


@pytest.mark.parametrize("vad_name", ["silero", "webrtc"])
async def test_a_spoken_question_is_heard_transcribed_and_answered(
    vad_name: str, question: Spoken, silero: SileroVAD, sphinx: PocketSphinxASR
) -> None:
    vad: VADModel = silero if vad_name == "silero" else WebRtcVAD(aggressiveness=2)
    llm = ScriptedLLM.replies(*["It is sunny in London."] * 2)
    h = await listening(tts=ScriptedTTS(sample_rate=RATE), llm=llm, vad=vad, asr=sphinx)
    edges = record_edges(h)
    frame = h.runtime.voice.frame_duration  # type: ignore[union-attr]

    await h.push(question.pcm)
    await h.clock.advance(1.0)

    # speaking events at the right media times: the onset within a frame or two of the
    # padding; the offset trails a little, as the VAD still hears the speech's decay
    # (silero: up to 3 frames of 32 ms; webrtcvad's built-in hangover: up to 5 of 30 ms)
    started, ended = edges
    assert isinstance(started, e.UserSpeechStarted) and isinstance(ended, e.UserSpeechEnded)
    assert question.start - frame <= started.media_time <= question.start + 2 * frame
    trail = 3 if vad_name == "silero" else 5
    assert question.end - frame <= ended.media_time <= question.end + trail * frame
    assert h.names()[1:3] == ["conversation.user.started_speaking", "conversation.started_speaking"]
    assert len(h.of(p.UserStoppedSpeaking)) == 1
    ((start_t, _),) = h.of(p.UserStartedSpeaking)
    assert start_t - h.t0 == pytest.approx(started.media_time + started.detected_after, abs=0.021)

    # the committed user turn holds the question, the pause after the speech's end
    ((commit_t, text),) = h.user_utterances()
    assert all(word in text.lower().split() for word in KEYWORDS), text
    # the pause counts from where the sound stopped: at or up to 0.1 s before the VAD's
    # end, which trails the sound as the VAD's probability decays
    ((stop_t, _),) = h.of(p.UserStoppedSpeaking)
    pause_start = stop_t - h.t0 - ended.detected_after
    assert ended.media_time - 0.101 <= pause_start <= ended.media_time + 0.001
    assert pause_start >= question.end - 0.05
    assert commit_t - h.t0 == pytest.approx(pause_start + PAUSE_SILENCE["medium"], abs=0.021)
    # the LLM got it and the reply is being spoken (a reply prepared at the pause on the
    # recogniser's guess is replaced when the final transcript says otherwise)
    assert llm.calls[-1].messages[-1].content == text
    assert h.runtime.turn_stats.preemptive_used == 1
    ((reply_t, _),) = h.of(p.ReplicaStartedSpeaking)
    assert reply_t - commit_t < 0.05


async def test_barge_in_with_real_speech_at_high_sensitivity(
    question: Spoken, silero: SileroVAD, sphinx: PocketSphinxASR
) -> None:
    reply = "Once upon a time there was a little fox who lived in a very big wood."
    h = await listening(
        tts=ScriptedTTS(sample_rate=RATE),
        llm=ScriptedLLM.replies(reply, "Sorry, go on."),
        vad=silero,
        asr=sphinx,
    )
    edges = record_edges(h)
    set_sensitivity(h, interrupt="high")
    h.respond("Tell me a story.")
    await h.push(silence(RATE // 2))
    assert h.of(p.ReplicaStartedSpeaking)
    before = h.pushed
    await h.push(question.pcm)
    ((stop_t, stopped),) = h.of(p.ReplicaStoppedSpeaking)[:1]
    assert stopped.properties.interrupted
    onset = before + edges[0].media_time - before  # media time of the detected onset
    true_onset = before + question.start
    assert abs(onset - true_onset) <= 2 * 0.032
    # the replica stops once the user has spoken the documented minimum
    late = stop_t - h.t0 - true_onset
    minimum = INTERRUPT_MIN_SPEECH["high"]
    assert minimum - 0.032 <= late <= minimum + 2 * 0.032
    # the question became the next turn
    assert any("weather" in t for _, t in h.user_utterances())


async def test_a_150ms_spoken_burst_does_not_interrupt_at_low_sensitivity(
    okay: bytes, silero: SileroVAD, sphinx: PocketSphinxASR
) -> None:
    reply = "One two three four five six seven eight nine ten."
    h = await listening(
        tts=ScriptedTTS(sample_rate=RATE),
        llm=ScriptedLLM.replies(reply),
        vad=silero,
        asr=sphinx,
    )
    set_sensitivity(h, interrupt="low")
    h.respond("Count to ten.")
    await h.push(silence(RATE // 2))
    level = np.abs(pcm16_to_float(okay))
    first = int(np.flatnonzero(level > 0.02)[0])
    burst = okay[2 * first : 2 * (first + round(0.15 * RATE))]
    await h.push(pad(burst, 0.1, 3.0, seed=3).pcm)
    assert len(h.of(p.UserStartedSpeaking)) == 1  # the VAD did hear it…
    ((_, stopped),) = h.of(p.ReplicaStoppedSpeaking)
    assert not stopped.properties.interrupted
    assert stopped.properties.duration == pytest.approx(10 * 0.2)
    assert [t for _, t in h.user_utterances()] == ["Count to ten."]  # …no turn of its own
