"""The scripted plugins tests elsewhere rely on."""

from __future__ import annotations

import pytest

from openreplica.plugins.audio import rms, silence, tone
from openreplica.plugins.base import (
    LLM,
    TTS,
    ASRModel,
    ChatMessage,
    LLMUnavailable,
    TextDelta,
    ToolCallRequest,
    Transcript,
    TTSUnavailable,
    VADModel,
)
from openreplica.plugins.scripted import (
    ScriptedASR,
    ScriptedLLM,
    ScriptedTTS,
    ScriptedVAD,
    text_deltas,
)


def test_scripted_plugins_satisfy_the_protocols() -> None:
    assert isinstance(ScriptedLLM([]), LLM)
    assert isinstance(ScriptedTTS(), TTS)
    assert isinstance(ScriptedVAD(), VADModel)
    assert isinstance(ScriptedASR([]), ASRModel)


def test_text_deltas_rebuild_the_text() -> None:
    deltas = text_deltas("Hello there, friend.")
    assert deltas == [TextDelta("Hello"), TextDelta(" there,"), TextDelta(" friend.")]


async def test_llm_plays_scripts_in_order_and_records_calls() -> None:
    call = ToolCallRequest("c1", "lookup", "{}")
    llm = ScriptedLLM([[TextDelta("a"), call], LLMUnavailable("down")])
    msgs = [ChatMessage("user", "hi")]
    tools = [{"type": "function", "function": {"name": "lookup"}}]
    assert [d async for d in llm.stream(msgs, tools)] == [TextDelta("a"), call]
    with pytest.raises(LLMUnavailable, match="down"):
        [d async for d in llm.stream(msgs)]
    with pytest.raises(LLMUnavailable, match="no script left"):
        [d async for d in llm.stream(msgs)]
    assert len(llm.calls) == 3
    assert llm.calls[0].messages == tuple(msgs)
    assert llm.calls[0].tools == tuple(tools)
    assert llm.calls[1].tools == ()


async def test_llm_can_fail_mid_stream_and_sleeps_between_deltas() -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    llm = ScriptedLLM([[TextDelta("x"), LLMUnavailable("cut")]], delay=0.25, sleep=fake_sleep)
    got = []
    with pytest.raises(LLMUnavailable, match="cut"):
        async for d in llm.stream([]):
            got.append(d)
    assert got == [TextDelta("x")]
    assert slept == [0.25, 0.25]


async def test_llm_replies_helper() -> None:
    llm = ScriptedLLM.replies("One two.", "Three")
    first = "".join([d.text async for d in llm.stream([]) if isinstance(d, TextDelta)])
    second = "".join([d.text async for d in llm.stream([]) if isinstance(d, TextDelta)])
    assert (first, second) == ("One two.", "Three")


async def test_tts_gives_a_fixed_duration_per_word() -> None:
    tts = ScriptedTTS(sample_rate=16000, ms_per_word=200)
    chunks = [c async for c in tts.synthesize("one two three")]
    assert len(chunks) == 3
    assert all(c.sample_rate == 16000 and c.samples == 3200 for c in chunks)
    assert sum(c.samples for c in chunks) == tts.samples_for("one two three") == 9600
    assert rms(chunks[0].pcm) > 0.1
    assert tts.texts == ["one two three"]
    tts.fail = TTSUnavailable("boom")
    with pytest.raises(TTSUnavailable):
        [c async for c in tts.synthesize("x")]
    assert tts.texts == ["one two three", "x"]


def test_vad_maps_rms_to_probability() -> None:
    vad = ScriptedVAD(frame_samples=320)
    s = vad.create_stream()
    assert s.speech_probability(tone(200, 0.02, 16000, amplitude=0.5)) == 1.0
    assert s.speech_probability(silence(320)) == 0.0
    assert s.frames == 2
    with pytest.raises(ValueError):
        s.speech_probability(silence(100))
    custom = ScriptedVAD(lambda level: min(1.0, level * 10), frame_samples=160).create_stream()
    assert custom.speech_probability(tone(200, 0.01, 16000, amplitude=0.05)) == pytest.approx(
        0.35, abs=0.02
    )


async def test_asr_returns_transcripts_in_order_with_partials() -> None:
    asr = ScriptedASR(["hello there friend", "bye"], partials=True)
    s = asr.create_stream()
    assert await s.push(silence(320)) == Transcript("hello", final=False)
    assert await s.push(silence(320)) == Transcript("hello there", final=False)
    assert await s.push(silence(320)) == Transcript("hello there friend", final=False)
    assert await s.push(silence(320)) is None  # unchanged
    assert await s.finish() == Transcript("hello there friend", final=True)
    assert await s.push(silence(320)) == Transcript("bye", final=False)
    assert await s.finish() == Transcript("bye", final=True)
    assert await s.finish() == Transcript("", final=True)
    assert s.pushed_samples == 5 * 320


async def test_asr_without_partials() -> None:
    asr = ScriptedASR(["x"])
    assert not asr.streams_partials
    s = asr.create_stream()
    assert await s.push(silence(10)) is None
    assert (await s.finish()).text == "x"
