"""Bounded speech in the runtime, on a virtual clock: TTS workers are released on every
path, synthesis runs only a bounded distance ahead of playout, and large chunks are
resampled in bounded slices without reordering audio."""

from __future__ import annotations

import asyncio
import json

from openreplica import protocol as p
from openreplica.engine import EngineSettings, SpeechLimits
from openreplica.plugins.audio import tone
from openreplica.plugins.scripted import ScriptedLLM, ScriptedTTS
from openreplica.runtime import ConversationRuntime, RuntimePlugins, VirtualClock
from openreplica.runtime.playout import Playout

RATE = 16000
INTERRUPT = '{"event_type": "conversation.interrupt"}'


def echo(text: str, **props: object) -> str:
    return json.dumps({"event_type": "conversation.echo", "properties": {"text": text, **props}})


async def _runtime(
    limits: SpeechLimits | None = None,
) -> tuple[ConversationRuntime, VirtualClock, ScriptedTTS, list[p.Event]]:
    clock = VirtualClock()
    tts = ScriptedTTS(sample_rate=RATE, ms_per_word=200)
    runtime = ConversationRuntime(
        "c1",
        # no presence heartbeat: its timer would be one more pending wait in the count below
        EngineSettings(
            output_sample_rate=RATE, limits=limits or SpeechLimits(), presence_interval=0.0
        ),
        RuntimePlugins(tts=tts, llm=ScriptedLLM([])),
        clock,
    )
    events: list[p.Event] = []
    runtime.subscribe(lambda event, _: events.append(event))
    await runtime.start()
    return runtime, clock, tts, events


def _send(runtime: ConversationRuntime, data: str, errors: list[p.ErrorEvent]) -> None:
    runtime.submit(p.decode_interaction(data), lambda error, _: errors.append(error))


# ----------------------------------------------------------------------- worker release


async def test_many_echo_and_interrupt_pairs_leave_no_tts_workers_or_tasks_behind() -> None:
    runtime, clock, _tts, events = await _runtime()
    errors: list[p.ErrorEvent] = []
    baseline = len(asyncio.all_tasks())
    for i in range(300):
        _send(runtime, echo(f"Pair number {i} is here."), errors)
        if i % 3:  # mostly cut before the worker's first step, sometimes mid-speech
            await clock.advance(0.05 * (i % 3))
        _send(runtime, INTERRUPT, errors)
    await clock.advance(0.1)
    assert runtime.speech.workers == 0
    assert len(asyncio.all_tasks()) == baseline
    assert not errors
    # and the conversation still speaks afterwards
    _send(runtime, echo("Still here."), errors)
    await clock.advance(2.0)
    assert isinstance(events[-1], p.StoppedSpeaking)
    assert runtime.speech.workers == 0
    await runtime.shutdown("test")


async def test_workers_are_released_after_normal_speech_and_on_shutdown() -> None:
    runtime, clock, _tts, _events = await _runtime()
    _send(runtime, echo("One. Two. Three."), [])
    await clock.advance(0.01)
    assert runtime.speech.workers == 1
    await clock.advance(2.0)
    assert runtime.speech.workers == 0
    _send(runtime, echo("Four five six seven."), [])
    await clock.advance(0.01)
    await runtime.shutdown("test")
    assert runtime.speech.workers == 0


# ------------------------------------------------------------------------ backpressure


async def test_synthesis_runs_only_a_bounded_distance_ahead_of_playout() -> None:
    limits = SpeechLimits(tts_ahead=2.0, max_segment_chars=60)
    runtime, clock, tts, _events = await _runtime(limits)
    text = " ".join(["word"] * 1500)  # 7,499 characters: 300 s of speech in one message
    _send(runtime, echo(text), [])
    for _ in range(20):
        await clock.advance(0.5)
        # at most the bound plus one word (the chunk that crossed it) waits to be played
        assert runtime.playout.queued_seconds <= 2.0 + 0.2 + 1e-9
    synthesised = sum(len(t.split()) for t in tts.texts)
    assert synthesised * 0.2 <= 10.0 + 2.0 + 60 / 5 * 0.2  # played + ahead + a segment
    assert all(len(t) <= 60 for t in tts.texts)
    _send(runtime, INTERRUPT, [])
    await clock.advance(0.1)
    assert runtime.playout.queued_seconds == 0 and runtime.speech.workers == 0
    await runtime.shutdown("test")


# ------------------------------------------------------------------ resampling in slices


async def resampled(playout: Playout) -> None:
    """Let the event loop run until nothing waits to be resampled (a bounded wait)."""
    for _ in range(10_000):
        if playout._converter is None:
            return
        await asyncio.sleep(0)
    raise AssertionError("resampling did not finish")


async def test_large_chunks_are_resampled_in_slices_between_other_work_and_keep_order() -> None:
    clock = VirtualClock()
    played: list[tuple[int, int]] = []
    playout = Playout(
        clock, 24000, lambda g, s, n: played.append((s, n)), lambda g: None,
        resample_slice_bytes=1000,
    )  # fmt: skip
    playout.start()
    steps = 0

    async def other_work() -> None:  # counts event-loop steps while resampling goes on
        nonlocal steps
        while True:
            steps += 1
            await asyncio.sleep(0)

    other = asyncio.create_task(other_work())
    big = tone(440, 1.0, 16000)  # 32,000 bytes: 32 slices
    playout.enqueue(1, 0, big, 16000)
    playout.enqueue(1, 1, tone(440, 0.02, 24000), 24000)  # small, but must wait its turn
    playout.enqueue(1, 2, tone(440, 0.02, 16000) + b"\x00\x00", 16000)
    await resampled(playout)
    await clock.advance(1.2)
    other.cancel()
    assert steps >= 32  # the loop ran other work between slices
    assert playout.queued_seconds == 0
    segments = [s for s, _ in played]
    assert segments == sorted(segments) and set(segments) == {0, 1, 2}
    # exactly the samples the engine counts (resampled_length), for every chunk
    assert [sum(n for s, n in played if s == k) for k in (0, 1, 2)] == [24000, 480, 482]
    await playout.aclose()


async def test_stop_drops_audio_still_being_resampled() -> None:
    clock = VirtualClock()
    drained: list[int] = []
    played: list[int] = []
    playout = Playout(
        clock, 24000, lambda g, s, n: played.append(g), drained.append,
        resample_slice_bytes=1000,
    )  # fmt: skip
    playout.start()
    playout.enqueue(1, 0, tone(440, 2.0, 44100), 44100)
    await asyncio.sleep(0)  # its resampling has begun
    playout.stop(1)
    playout.enqueue(2, 0, tone(440, 0.1, 24000), 24000)
    await resampled(playout)
    await clock.advance(0.5)
    assert played and set(played) == {2}
    assert drained == [2]
    assert playout.queued_seconds == 0
    await playout.aclose()
