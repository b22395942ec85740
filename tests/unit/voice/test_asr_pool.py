"""PocketSphinx decoders are pooled: a new conversation does not rebuild one (a
blocking, GIL-holding 0.3-1 s), and the voice path gets its decoder before speech."""

from __future__ import annotations

import asyncio
import time

from voice_harness import RATE, listening

from openreplica.plugins.asr_pocketsphinx import PocketSphinxASR
from openreplica.plugins.audio import silence
from openreplica.plugins.scripted import ScriptedLLM, ScriptedTTS, ScriptedVAD


async def test_streams_share_a_pool_of_decoders() -> None:
    asr = PocketSphinxASR(keywords=["yes", "no"])
    asr.warm(1)
    assert asr.idle_decoders == 1
    a = asr.create_stream()
    await a.prepare()
    assert asr.idle_decoders == 0
    await a.push(silence(1600))
    await a.aclose()  # mid-utterance: ended, then pooled
    assert asr.idle_decoders == 1
    b = asr.create_stream()
    started = time.perf_counter()
    await b.prepare()
    assert time.perf_counter() - started < 0.05  # reused, not rebuilt
    assert (await b.finish()).text == ""
    await b.aclose()


async def test_the_event_loop_keeps_ticking_while_a_long_push_is_decoded() -> None:
    asr = PocketSphinxASR()
    stream = asr.create_stream()
    await stream.prepare()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await stream.push(silence(RATE * 2))  # 2 s in one call: decoded in 32 ms slices
    task.cancel()
    assert ticks >= 50
    await stream.aclose()


async def test_the_voice_path_prepares_the_recogniser_on_the_first_audio() -> None:
    asr = PocketSphinxASR(keywords=["hello"])
    h = await listening(
        tts=ScriptedTTS(), llm=ScriptedLLM([]), vad=ScriptedVAD(frame_samples=512), asr=asr
    )
    await h.push(silence(RATE // 10))  # quiet: no speech yet
    voice = h.runtime.voice
    assert voice is not None and asr.idle_decoders == 0  # taken from the pool already
    await h.runtime.shutdown("end_conversation_endpoint_hit")
    assert asr.idle_decoders == 1
