"""The guard (runtime/guard.py): a bug in the engine or in a worker of the runtime ends
that conversation with `system.shutdown` (`internal_error`) and a logged traceback,
whichever path it happens on. Virtual clock, scripted plugins; the bug is an engine
input that raises (or a sink that does)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from eventually import eventually
from voice_harness import listening

from openreplica import protocol as p
from openreplica.engine import PAUSE_SILENCE, EngineSettings
from openreplica.engine import io as e
from openreplica.plugins.audio import silence, tone
from openreplica.plugins.perception import Image, Observation, PerceptionConfig, SpeechFeatures
from openreplica.plugins.scripted import ScriptedASR, ScriptedLLM, ScriptedTTS, ScriptedVAD
from openreplica.runtime import INTERNAL_ERROR, ConversationRuntime, RuntimePlugins, VirtualClock

RATE = 16000
ECHO = '{"event_type": "conversation.echo", "properties": {"text": "One two three."}}'
RESPOND = '{"event_type": "conversation.respond", "properties": {"text": "Hi"}}'


class Bug(Exception):
    """The deliberate bug."""


@dataclass
class Harness:
    runtime: ConversationRuntime
    clock: VirtualClock
    events: list[p.Event] = field(default_factory=list)

    def send(self, data: str) -> None:
        self.runtime.submit(p.decode_interaction(data))

    def shutdowns(self) -> list[str]:
        return [x.properties.shutdown_reason for x in self.events if isinstance(x, p.Shutdown)]


async def _harness(plugins: RuntimePlugins | None = None, **kw: Any) -> Harness:
    clock = VirtualClock()
    runtime = ConversationRuntime(
        "c1",
        EngineSettings(output_sample_rate=RATE),
        plugins
        or RuntimePlugins(tts=ScriptedTTS(sample_rate=RATE), llm=ScriptedLLM.replies("Ok.")),
        clock,
        **kw,
    )
    h = Harness(runtime, clock)
    runtime.subscribe(lambda event, _: h.events.append(event))
    return h


def raise_on(runtime: ConversationRuntime, kind: type) -> list[e.EngineInput]:
    """Make the engine raise on its first input of `kind`; returns the inputs it saw."""
    seen: list[e.EngineInput] = []
    handle = runtime.engine.handle

    def buggy(item: e.EngineInput, now: float) -> list[e.Effect]:
        seen.append(item)
        if isinstance(item, kind):
            raise Bug(f"a bug on {kind.__name__}")
        return handle(item, now)

    runtime.engine.handle = buggy  # type: ignore[method-assign]
    return seen


def assert_ended_by_the_bug(h: Harness, caplog: pytest.LogCaptureFixture, where: str) -> None:
    assert h.shutdowns() == [INTERNAL_ERROR]
    assert isinstance(h.events[-1], p.Shutdown), "system.shutdown is the last event"
    assert h.runtime.ended and h.runtime.failed
    seqs = [x.seq for x in h.events]
    assert seqs == list(range(1, len(seqs) + 1))
    (record,) = [r for r in caplog.records if r.name == "openreplica.runtime.guard"]
    assert record.levelno == logging.ERROR and where in record.getMessage()
    assert record.exc_info is not None and isinstance(record.exc_info[1], Bug)


@pytest.mark.parametrize(
    ("kind", "trigger"),
    [
        (e.InteractionReceived, ECHO),  # the engine itself, on a participant's message
        (e.LLMToken, RESPOND),  # fed from the LLM stream's task
        (e.SpeechAudio, RESPOND),  # fed from a TTS worker
        (e.AudioPlayed, ECHO),  # fed from playout's `on_played` (used to kill playout)
        (e.PlayoutDrained, ECHO),  # fed from playout's `on_drained`
    ],
)
async def test_an_engine_failure_on_any_path_ends_the_conversation(
    kind: type, trigger: str, caplog: pytest.LogCaptureFixture
) -> None:
    h = await _harness()
    await h.runtime.start()
    seen = raise_on(h.runtime, kind)
    h.send(trigger)
    await h.clock.advance(5.0)
    assert any(isinstance(x, kind) for x in seen)
    assert_ended_by_the_bug(h, caplog, f"handling {kind.__name__}")
    # Nothing is fed to a failed engine, and nothing is left running.
    fed = len(seen)
    h.runtime.feed(e.InteractionReceived(p.decode_interaction(ECHO)))
    await h.clock.advance(5.0)
    assert len(seen) == fed and h.shutdowns() == [INTERNAL_ERROR]
    assert h.runtime.speech.workers == 0


async def test_a_failure_in_the_engines_timers_ends_the_conversation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = await _harness()
    await h.runtime.start()
    await h.clock.advance(1.0)

    def broken(now: float) -> list[e.Effect]:
        raise Bug("a bug in a timer")

    h.runtime.engine.fire_timers = broken  # type: ignore[method-assign]
    for item in (
        e.UserSpeechStarted(media_time=0.0),
        e.UserSpeechEnded(media_time=1.0),
        e.UserTranscript("hello there", final=True),
    ):
        h.runtime.feed(item)
    await h.clock.advance(PAUSE_SILENCE["medium"] + 1.0)  # the pause timer fires
    assert_ended_by_the_bug(h, caplog, "'engine-timers'")


async def test_a_failing_audio_sink_ends_the_conversation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class BrokenSink:
        def write(self, pcm: bytes, sample_rate: int) -> None:
            raise Bug("a broken sink")

    h = await _harness()
    h.runtime.add_speech_listener(BrokenSink())
    await h.runtime.start()
    h.send(ECHO)
    await h.clock.advance(2.0)
    assert_ended_by_the_bug(h, caplog, "'playout'")


async def test_a_failure_on_the_voice_input_path_ends_the_conversation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = await listening(
        tts=ScriptedTTS(sample_rate=RATE),
        llm=ScriptedLLM.replies("Sure."),
        vad=ScriptedVAD(frame_samples=512),
        asr=ScriptedASR(["hello"]),
    )
    seen = raise_on(h.runtime, e.UserSpeechStarted)
    await h.push(silence(RATE // 2) + tone(220.0, 1.0, RATE, amplitude=0.3))
    await h.clock.advance(1.0)
    assert any(isinstance(x, e.UserSpeechStarted) for x in seen)
    events = [x for _, x in h.events]
    assert [x.properties.shutdown_reason for x in events if isinstance(x, p.Shutdown)] == [
        INTERNAL_ERROR
    ]
    assert isinstance(events[-1], p.Shutdown)
    (record,) = [r for r in caplog.records if r.name == "openreplica.runtime.guard"]
    assert "handling UserSpeechStarted" in record.getMessage() and record.exc_info


class SeeingEngine:
    """A perception engine that always sees someone."""

    name = "seeing"

    def __init__(self) -> None:
        self.config = PerceptionConfig()

    def observe(self, images: Sequence[Image], at: float) -> Observation:
        return Observation("Someone is there.")

    def audio_tools(self, transcript: str, speech: SpeechFeatures) -> list[Any]:
        return []

    def analysis(self) -> str:
        return "someone was there"

    def close(self) -> None:
        pass


async def test_a_failure_on_the_perception_path_ends_the_conversation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    plugins = RuntimePlugins(
        tts=ScriptedTTS(sample_rate=RATE), llm=ScriptedLLM.replies("Ok."), perception=SeeingEngine()
    )
    h = await _harness(plugins)
    seen = raise_on(h.runtime, e.VisualContextUpdated)
    h.runtime.camera.push(np.zeros((16, 16, 3), np.uint8), h.clock.now())
    await h.runtime.start()
    layer = h.runtime.perception
    assert layer is not None
    await h.clock.advance(0.0)
    await layer.idle()  # the look runs in the layer's worker thread
    assert any(isinstance(x, e.VisualContextUpdated) for x in seen)
    # Ending waits for the end-of-call analysis, which runs in the worker thread.
    await eventually(lambda: h.runtime.ended, message="the conversation ended")
    assert_ended_by_the_bug(h, caplog, "handling VisualContextUpdated")


async def test_the_shutdown_is_sent_even_when_the_engine_fails_to_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = await _harness()
    await h.runtime.start()

    def broken(reason: str, now: float) -> list[e.Effect]:
        raise Bug("a bug while ending")

    h.runtime.engine.shutdown = broken  # type: ignore[method-assign]
    await h.runtime.shutdown("end_conversation_endpoint_hit")
    await h.clock.advance(1.0)
    # The reason already decided stands; the bug is logged.
    assert h.shutdowns() == ["end_conversation_endpoint_hit"]
    assert isinstance(h.events[-1], p.Shutdown)
    (record,) = [r for r in caplog.records if r.name == "openreplica.runtime.guard"]
    assert "ending the conversation" in record.getMessage()


async def test_an_owner_given_on_internal_error_is_told_once_and_ends_it_itself(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[str] = []
    holder: dict[str, Callable[[], None]] = {}
    h = await _harness(on_internal_error=lambda: holder["end"]())

    def end() -> None:
        calls.append("end")

    holder["end"] = end
    await h.runtime.start()
    raise_on(h.runtime, e.AudioPlayed)
    h.send(ECHO)
    await h.clock.advance(3.0)
    assert calls == ["end"]  # once, however many frames were played after the bug
    assert h.shutdowns() == [] and not h.runtime.ended  # the owner ends it
    await h.runtime.shutdown(INTERNAL_ERROR)
    assert h.shutdowns() == [INTERNAL_ERROR]
