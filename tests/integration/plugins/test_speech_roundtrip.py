"""Real models end to end: Piper speaks, the VADs find the speech, PocketSphinx hears it.

Piper, silero and the test utterance are built once per module (the slow part).
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass

import numpy as np
import pytest
from requires import require_program

from openreplica.plugins.asr_pocketsphinx import PocketSphinxASR
from openreplica.plugins.audio import Resampler, float_to_pcm16, pcm16_to_float, rms, silence
from openreplica.plugins.base import TTS, AudioChunk, TTSUnavailable, VADModel
from openreplica.plugins.tts_espeak import EspeakTTS
from openreplica.plugins.tts_piper import PiperTTS
from openreplica.plugins.vad_silero import SileroVAD
from openreplica.plugins.vad_webrtc import WebRtcVAD

SENTENCE = "hello world, please tell me about the weather"
RATE = 16000


async def synthesize(tts: TTS, text: str) -> list[AudioChunk]:
    return [c async for c in tts.synthesize(text)]


@dataclass(frozen=True)
class Utterance:
    """Speech padded with 1 s of low noise each side, at 16 kHz."""

    pcm: bytes
    #: first and last sample (in `pcm`) where the speech itself is audible
    speech_start: int
    speech_end: int


@pytest.fixture(scope="module")
def piper() -> PiperTTS:
    # No sampling noise: the same audio every run, so the thresholds below are stable.
    tts = PiperTTS.default(threads=1, noise_scale=0.0, noise_w_scale=0.0)
    tts.load()
    return tts


@pytest.fixture(scope="module")
def silero() -> SileroVAD:
    return SileroVAD()


@pytest.fixture(scope="module")
def utterance(piper: PiperTTS) -> Utterance:
    chunks = asyncio.run(synthesize(piper, SENTENCE))
    # Resample in odd-sized pieces on purpose: the stream must stay continuous.
    resampler = Resampler(piper.sample_rate, RATE)
    pcm22 = b"".join(c.pcm for c in chunks)
    speech = b"".join(resampler.process(pcm22[i : i + 1001]) for i in range(0, len(pcm22), 1001))
    speech += resampler.flush()
    level = np.abs(pcm16_to_float(speech))
    audible = np.flatnonzero(level > 0.02)
    padded = silence(RATE) + speech + silence(RATE)
    noise = np.random.default_rng(1).normal(0.0, 0.003, len(padded) // 2)
    pcm = float_to_pcm16(pcm16_to_float(padded) + noise)
    return Utterance(pcm, RATE + int(audible[0]), RATE + int(audible[-1]))


def frames(pcm: bytes, n: int) -> list[bytes]:
    return [pcm[i : i + 2 * n] for i in range(0, len(pcm) - 2 * n + 1, 2 * n)]


def noise(seconds: float, seed: int = 2) -> bytes:
    rng = np.random.default_rng(seed)
    return float_to_pcm16(rng.normal(0.0, 0.003, int(seconds * RATE)))


# ------------------------------------------------------------------------------ TTS


async def test_piper_speaks_a_sentence(piper: PiperTTS) -> None:
    chunks = await synthesize(piper, "The quick brown fox jumps over the lazy dog.")
    assert len(chunks) == 1
    (chunk,) = chunks
    assert chunk.sample_rate == piper.sample_rate == 22050
    assert 0.5 < chunk.duration < 5.0
    assert rms(chunk.pcm) > 0.05


async def test_piper_yields_one_chunk_per_sentence(piper: PiperTTS) -> None:
    chunks = await synthesize(piper, "Good morning. How are you today? I am fine.")
    assert len(chunks) == 3
    assert all(c.duration > 0.3 and rms(c.pcm) > 0.05 for c in chunks)
    assert await synthesize(piper, "   ") == []


async def test_piper_does_not_block_the_event_loop(piper: PiperTTS) -> None:
    # A ticker task must keep running while a long text is synthesised.
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await synthesize(piper, "This is a long sentence that takes the model a while. " * 3)
    done.set()
    await task
    assert ticks > 10


def test_missing_voice_file_is_a_clear_error(tmp_path: object) -> None:
    with pytest.raises(TTSUnavailable, match=r"missing\.onnx\.json"):
        PiperTTS(__import__("pathlib").Path("/nonexistent/missing.onnx"))


async def test_espeak_speaks() -> None:
    require_program("espeak-ng", "apt-get install espeak-ng")
    chunks = await synthesize(EspeakTTS(), "Hello there, this is a test.")
    assert len(chunks) == 1
    assert chunks[0].sample_rate == 22050
    assert 0.5 < chunks[0].duration < 5.0
    assert rms(chunks[0].pcm) > 0.02


async def test_espeak_missing_binary_says_how_to_install() -> None:
    tts = EspeakTTS(executable="espeak-ng-definitely-not-here")
    with pytest.raises(TTSUnavailable, match="apt-get install espeak-ng"):
        await synthesize(tts, "hi")


# ------------------------------------------------------------------------------ VAD


def speech_frames(vad: VADModel, pcm: bytes) -> tuple[list[int], int]:
    stream = vad.create_stream()
    n = stream.frame_samples
    probs = [stream.speech_probability(f) for f in frames(pcm, n)]
    return [i for i, p in enumerate(probs) if p >= 0.5], n


def test_silero_finds_the_speech_boundaries(silero: SileroVAD, utterance: Utterance) -> None:
    speech, n = speech_frames(silero, utterance.pcm)
    assert speech, "no speech found"
    assert abs(speech[0] - utterance.speech_start // n) <= 2
    # The probability decays over a frame or two after the voice stops: allow one more.
    assert -2 <= speech[-1] - utterance.speech_end // n <= 3
    # and most of the speech in between counts as speech (the comma pause may not)
    span = utterance.speech_end // n - utterance.speech_start // n
    assert len(speech) >= 0.75 * span


def test_silero_hears_nothing_in_noise(silero: SileroVAD) -> None:
    speech, _ = speech_frames(silero, noise(2.0))
    assert speech == []


def test_silero_streams_are_independent_and_reset(silero: SileroVAD, utterance: Utterance) -> None:
    a, b = silero.create_stream(), silero.create_stream()
    frame = frames(utterance.pcm, 512)[utterance.speech_start // 512 + 10]
    for f in frames(utterance.pcm, 512)[:40]:
        a.speech_probability(f)
    p_after_history = a.speech_probability(frame)
    a.reset()
    assert a.speech_probability(frame) == pytest.approx(b.speech_probability(frame), abs=1e-6)
    assert 0.0 <= p_after_history <= 1.0
    with pytest.raises(ValueError):
        a.speech_probability(silence(480))


def test_webrtc_finds_the_speech(utterance: Utterance) -> None:
    speech, n = speech_frames(WebRtcVAD(aggressiveness=3), utterance.pcm)
    start, end = utterance.speech_start // n, utterance.speech_end // n
    # The GMM needs a few frames to adapt to the noise floor at the very start.
    warmup = 10
    stray = [i for i in speech if warmup <= i < start - 3 or i > end + 8]
    assert stray == []
    inside = [i for i in speech if start <= i <= end]
    assert len(inside) >= 0.75 * (end - start)


def test_webrtc_frame_size_is_checked() -> None:
    stream = WebRtcVAD().create_stream()
    assert stream.frame_samples == 480
    with pytest.raises(ValueError):
        stream.speech_probability(silence(512))
    with pytest.raises(ValueError):
        WebRtcVAD(aggressiveness=4)


# ------------------------------------------------------------------------------ ASR


async def recognise(asr: PocketSphinxASR, pcm: bytes, chunk: int = 480) -> tuple[list[str], str]:
    stream = asr.create_stream()
    partials: list[str] = []
    for f in frames(pcm, chunk):
        t = await stream.push(f)
        if t is not None:
            assert not t.final
            partials.append(t.text)
    final = await stream.finish()
    assert final.final
    await stream.aclose()
    return partials, final.text


async def test_pocketsphinx_transcribes_piper_speech(utterance: Utterance) -> None:
    partials, text = await recognise(PocketSphinxASR(), utterance.pcm)
    words = set(text.split())
    assert len(words & {"hello", "world", "tell", "me", "about", "the", "weather"}) >= 4, text
    assert partials, "no partial transcripts while streaming"
    # a partial is only reported when it changed
    assert all(a != b for a, b in itertools.pairwise(partials))


async def test_pocketsphinx_with_keywords_is_exact(utterance: Utterance) -> None:
    asr = PocketSphinxASR(
        keywords=["hello", "world", "please", "tell", "me", "about", "the", "weather", "time"]
    )
    _, text = await recognise(asr, utterance.pcm, chunk=1600)
    assert text == SENTENCE.replace(",", "")


async def test_pocketsphinx_stream_is_reusable_and_empty_finish_is_empty(
    utterance: Utterance,
) -> None:
    asr = PocketSphinxASR(
        keywords=["hello", "world", "please", "tell", "me", "about", "the", "weather"]
    )
    stream = asr.create_stream()
    assert (await stream.finish()).text == ""
    for _ in range(2):  # two utterances through one stream
        await stream.push(utterance.pcm)  # one big push: decoded in a worker thread
        assert (await stream.finish()).text == SENTENCE.replace(",", "")
    await stream.aclose()


def test_keywords_must_be_words() -> None:
    with pytest.raises(ValueError):
        PocketSphinxASR(keywords=["hello;", "public <x>"])
    with pytest.raises(ValueError):
        PocketSphinxASR(keywords=["a"], grammar="#JSGF V1.0;")
