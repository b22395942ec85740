"""Engine-name factories and the model cache."""

from __future__ import annotations

import pytest

from openreplica.plugins.aligner import AlignedTTS
from openreplica.plugins.asr_faster_whisper import FasterWhisperASR
from openreplica.plugins.asr_openai import OpenAICompatibleASR
from openreplica.plugins.asr_pocketsphinx import PocketSphinxASR
from openreplica.plugins.base import LLMOptions
from openreplica.plugins.llm_llama import LlamaCppLLM
from openreplica.plugins.llm_openai import OpenAICompatibleLLM
from openreplica.plugins.options import ASROptions, TTSOptions, VADOptions
from openreplica.plugins.registry import ModelCache, build_asr, build_llm, build_tts, build_vad
from openreplica.plugins.tts_espeak import EspeakTTS
from openreplica.plugins.tts_openai import OpenAICompatibleTTS
from openreplica.plugins.tts_piper import PiperTTS
from openreplica.plugins.vad_silero import SileroVAD
from openreplica.plugins.vad_webrtc import WebRtcVAD


@pytest.mark.parametrize(
    ("engine", "cls"),
    [(None, PiperTTS), ("piper", PiperTTS), ("espeak", EspeakTTS), ("OpenAI", OpenAICompatibleTTS)],
)
def test_build_tts_known_engines(engine: str | None, cls: type) -> None:
    tts, warning = build_tts(engine, TTSOptions(), ModelCache())
    if engine == "espeak":  # wrapped: visemes by forced alignment
        assert isinstance(tts, AlignedTTS)
        tts = tts.inner
    assert isinstance(tts, cls)
    assert warning is None


@pytest.mark.parametrize("engine", ["cartesia", "elevenlabs", "tavus-advanced"])
def test_unknown_tts_engine_falls_back_to_piper_with_a_warning(engine: str) -> None:
    tts, warning = build_tts(engine, TTSOptions(), ModelCache())
    assert isinstance(tts, PiperTTS)
    assert warning is not None
    assert engine in warning
    assert "piper" in warning


def test_piper_voice_is_loaded_once_per_cache() -> None:
    cache = ModelCache()
    a, _ = build_tts("piper", TTSOptions(), cache)
    b, _ = build_tts(None, TTSOptions(), cache)
    c, _ = build_tts("piper", TTSOptions(), ModelCache())
    assert a is b
    assert a is not c
    assert a.sample_rate == 22050


def test_tts_options_reach_the_engine() -> None:
    opts = TTSOptions(voice="nova", model="tts-x", base_url="http://127.0.0.1:1/v1", speed=1.5)
    tts, _ = build_tts("openai", opts, ModelCache())
    assert isinstance(tts, OpenAICompatibleTTS)
    assert (tts.voice, tts.model, tts.speed) == ("nova", "tts-x", 1.5)
    assert tts.base_url == "http://127.0.0.1:1/v1"
    aligned, _ = build_tts("espeak-ng", TTSOptions(voice="en-gb", speed=2.0), ModelCache())
    assert isinstance(aligned, AlignedTTS)
    espeak = aligned.inner
    assert isinstance(espeak, EspeakTTS)
    assert (espeak.voice, espeak.speed) == ("en-gb", 350)


def test_build_asr() -> None:
    cache = ModelCache()
    sphinx, warning = build_asr(None, ASROptions(), cache)
    assert isinstance(sphinx, PocketSphinxASR) and warning is None
    assert build_asr("pocketsphinx", ASROptions(), cache)[0] is sphinx
    kw, _ = build_asr("pocketsphinx", ASROptions(keywords=("yes", "no")), cache)
    assert isinstance(kw, PocketSphinxASR)
    assert kw is not sphinx and kw.grammar is not None
    oa, _ = build_asr("openai", ASROptions(base_url="http://127.0.0.1:1"), cache)
    assert isinstance(oa, OpenAICompatibleASR)
    fw, _ = build_asr("faster_whisper", ASROptions(model="tiny.en"), cache)
    assert isinstance(fw, FasterWhisperASR) and fw.model == "tiny.en"
    other, warning = build_asr("deepgram", ASROptions(), cache)
    assert other is sphinx
    assert warning is not None and "deepgram" in warning


def test_build_vad() -> None:
    cache = ModelCache()
    silero, warning = build_vad(None, VADOptions(), cache)
    assert isinstance(silero, SileroVAD) and warning is None
    assert build_vad("silero", VADOptions(), cache)[0] is silero
    webrtc, _ = build_vad("webrtc", VADOptions(aggressiveness=3), cache)
    assert isinstance(webrtc, WebRtcVAD) and webrtc.aggressiveness == 3
    fallback, warning = build_vad("krisp", VADOptions(), cache)
    assert fallback is silero
    assert warning is not None and "krisp" in warning


async def test_build_llm() -> None:
    cache = ModelCache()
    llm, warning = build_llm(None, LLMOptions(base_url="http://127.0.0.1:1/v1"), cache)
    assert isinstance(llm, OpenAICompatibleLLM) and warning is None
    assert llm.base_url == "http://127.0.0.1:1/v1"
    await llm.aclose()
    a, _ = build_llm("llama.cpp", LLMOptions(model="/m.gguf", extra_body={"t": 1}), cache)
    b, _ = build_llm("llama", LLMOptions(model="/m.gguf"), cache)
    assert isinstance(a, LlamaCppLLM) and isinstance(b, LlamaCppLLM)
    assert a.generation == {"t": 1} and b.generation == {}
    assert a._model is b._model  # one loaded model per file
    fallback, warning = build_llm("tavus-llama", LLMOptions(), cache)
    assert isinstance(fallback, OpenAICompatibleLLM)
    assert warning is not None and "tavus-llama" in warning
    await fallback.aclose()


async def test_cache_aclose_closes_http_clients() -> None:
    cache = ModelCache()
    closed: list[str] = []

    class Closable:
        async def aclose(self) -> None:
            closed.append("x")

    cache.get("k", Closable)
    cache.get("k", Closable)
    assert len(cache) == 1
    await cache.aclose()
    assert closed == ["x"]
    assert len(cache) == 0
