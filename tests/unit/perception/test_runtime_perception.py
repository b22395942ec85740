"""The perception layer in a conversation, on a virtual clock with frames pushed in."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import pytest
from skimage import data

from openreplica import protocol as p
from openreplica.engine import PAUSE_SILENCE, EngineSettings
from openreplica.engine import io as e
from openreplica.engine.perception import VISUAL_CONTEXT_NOTE
from openreplica.plugins.perception import (
    AudioToolCall,
    Image,
    Observation,
    PerceptionConfig,
    PerceptionUnavailable,
    SpeechFeatures,
    VisionToolCall,
    normalise_tools,
)
from openreplica.plugins.perception.basic import BasicPerception
from openreplica.plugins.scripted import ScriptedLLM, ScriptedTTS
from openreplica.runtime import ConversationRuntime, RuntimePlugins, VirtualClock
from openreplica.runtime.perception import PerceptionLayer

RATE = 16000
SEEN = "One person is in view, facing the camera; the room is well lit."
EMPTY = "No one is in view of the camera; the room is well lit."


@dataclass
class Harness:
    runtime: ConversationRuntime
    clock: VirtualClock
    llm: ScriptedLLM
    events: list[p.Event] = field(default_factory=list)

    @property
    def layer(self) -> PerceptionLayer:
        assert self.runtime.perception is not None
        return self.runtime.perception

    def show(self, image: Image) -> None:
        self.runtime.camera.push(image, self.clock.now())

    async def look(self, seconds: float = 1.0) -> None:
        """Let the sampler take a look, and wait for the worker thread's answer."""
        await self.clock.advance(seconds)
        await self.layer.idle()
        await self.clock.advance(0)

    def respond(self, text: str) -> None:
        self.runtime.submit(p.Respond(properties=p.RespondProps(text=text)))

    def of(self, kind: type) -> list[Any]:
        return [x for x in self.events if isinstance(x, kind)]

    def names(self) -> list[str]:
        return [p.event_type_of(type(x)) for x in self.events]


async def _harness(engine: Any, *replies: str) -> Harness:
    clock = VirtualClock()
    llm = ScriptedLLM.replies(*(replies or ("Yes, I can see you.",) * 3))
    ids = itertools.count(1)
    runtime = ConversationRuntime(
        "c1",
        EngineSettings(output_sample_rate=RATE),
        RuntimePlugins(tts=ScriptedTTS(sample_rate=RATE), llm=llm, perception=engine),
        clock,
        new_inference_id=lambda: f"inf-{next(ids)}",
    )
    h = Harness(runtime, clock, llm)
    runtime.subscribe(lambda event, _: h.events.append(event))
    return h


async def test_visual_context_reaches_the_user_utterance_and_the_llm() -> None:
    h = await _harness(BasicPerception(PerceptionConfig()))
    h.show(data.astronaut())
    await h.runtime.start()
    await h.look(0.0)
    h.respond("Can you see me?")
    await h.clock.advance(2.0)
    user = next(x for x in h.of(p.Utterance) if x.properties.role == "user")
    assert user.properties.visual_context == SEEN
    assert h.llm.calls[0].messages[-1].content == f"Can you see me?\n\n{VISUAL_CONTEXT_NOTE} {SEEN}"
    await h.runtime.shutdown("end_conversation_endpoint_hit")


async def test_the_camera_is_looked_at_when_the_user_stops_speaking() -> None:
    h = await _harness(BasicPerception(PerceptionConfig(sample_interval=30.0)))
    h.show(data.astronaut())
    await h.runtime.start()
    await h.look(0.0)
    assert h.layer.looks == 1
    h.runtime.feed(e.UserSpeechStarted(media_time=0.0))
    await h.clock.advance(1.0)
    h.show(data.coffee())  # the user walked off while talking
    h.runtime.feed(e.UserSpeechEnded(media_time=1.0))
    h.runtime.feed(e.UserTranscript("are you still there", final=True))
    await h.layer.idle()  # the on-demand look, well inside the pause
    assert h.layer.looks == 2
    await h.clock.advance(PAUSE_SILENCE["medium"] + 0.1)
    user = next(x for x in h.of(p.Utterance) if x.properties.role == "user")
    assert (user.properties.speech, user.properties.visual_context) == (
        "are you still there",
        EMPTY,
    )
    await h.runtime.shutdown("end_conversation_endpoint_hit")


def _decode(frame: p.Frame) -> np.ndarray:
    assert frame.mime_type == "image/jpeg"
    raw = np.frombuffer(base64.b64decode(frame.data), np.uint8)
    image = cv2.imdecode(raw, cv2.IMREAD_COLOR)
    assert image is not None
    return image


async def test_a_vision_tool_call_arrives_with_decodable_frames() -> None:
    tools = normalise_tools(
        [{"name": "user_left", "description": "Call when the user leaves the camera view."}]
    )
    h = await _harness(BasicPerception(PerceptionConfig(visual_tools=tools)))
    h.show(data.astronaut())
    await h.runtime.start()
    await h.look(0.0)
    h.respond("Hi")
    await h.clock.advance(0.5)
    h.show(data.coffee())
    await h.look(1.0)
    call = h.of(p.PerceptionToolCall)[0]
    props = call.properties
    assert (props.modality, props.name, props.arguments) == ("vision", "user_left", {})
    assert call.turn_idx == 1 and call.inference_id == "inf-2" and call.seq is not None
    assert props.frames is not None and len(props.frames) == 2
    shapes = [_decode(f).shape for f in props.frames]
    assert shapes == [(512, 512, 3), (400, 600, 3)]  # the two looks, oldest first
    assert len(p.encode(call)) < 200 * 1024
    await h.runtime.shutdown("end_conversation_endpoint_hit")


async def test_no_look_starts_between_the_commit_and_the_first_audio() -> None:
    clock = VirtualClock()
    slow_llm = ScriptedLLM.replies(
        "Yes.", delay=0.6, sleep=lambda s: clock.sleep_until(clock.now() + s)
    )
    runtime = ConversationRuntime(
        "c1",
        EngineSettings(output_sample_rate=RATE),
        RuntimePlugins(
            tts=ScriptedTTS(sample_rate=RATE),
            llm=slow_llm,
            perception=BasicPerception(PerceptionConfig(sample_interval=0.25)),
        ),
        clock,
    )
    h = Harness(runtime, clock, slow_llm)
    runtime.subscribe(lambda event, _: h.events.append(event))
    h.show(data.astronaut())
    await runtime.start()
    await h.look(0.0)
    h.respond("Can you see me?")
    h.show(data.coffee())
    await h.look(0.5)  # two sampler ticks while the LLM thinks: no look
    assert h.layer.looks == 1 and not h.of(p.ReplicaStartedSpeaking)
    await h.clock.advance(0.2)  # the first token, then the first audio
    assert h.of(p.ReplicaStartedSpeaking)
    await h.layer.idle()
    assert h.layer.looks == 2 and h.layer.visual_context == EMPTY
    await runtime.shutdown("end_conversation_endpoint_hit")


class FakeEngine:
    """A scripted engine: `observe` and `audio_tools` run the given functions."""

    name = "fake"

    def __init__(
        self,
        config: PerceptionConfig | None = None,
        observe: Callable[[Sequence[Image]], Observation] | None = None,
        analysis: Callable[[], str] | None = None,
    ) -> None:
        self.config = config or PerceptionConfig()
        self._observe = observe or (lambda images: Observation("Someone is there."))
        self._analysis = analysis or (lambda: "fake analysis")
        self.closed = False

    def observe(self, images: Sequence[Image], at: float) -> Observation:
        return self._observe(images)

    def audio_tools(self, transcript: str, speech: SpeechFeatures) -> list[AudioToolCall]:
        return []

    def analysis(self) -> str:
        return self._analysis()

    def close(self) -> None:
        self.closed = True


async def test_big_camera_frames_are_shrunk_to_fit_the_data_channel() -> None:
    rng = np.random.default_rng(7)
    noise = [rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8) for _ in range(3)]
    config = PerceptionConfig(frames_per_look=3)
    engine = FakeEngine(
        config,
        observe=lambda images: Observation("x", (VisionToolCall("snap", {"n": len(images)}),)),
    )
    h = await _harness(engine)
    await h.runtime.start()
    for image in noise:
        h.show(image)
        await h.look(1.0)
    calls = h.of(p.PerceptionToolCall)
    assert [c.properties.arguments for c in calls] == [{"n": 1}, {"n": 2}, {"n": 3}]
    for call in calls:
        assert len(p.encode(call)) <= 200 * 1024
        for frame in call.properties.frames or []:
            assert _decode(frame).ndim == 3
    assert len(calls[-1].properties.frames or []) >= 2
    await h.runtime.shutdown("end_conversation_endpoint_hit")


async def test_the_analysis_arrives_once_just_before_shutdown() -> None:
    h = await _harness(BasicPerception(PerceptionConfig()))
    h.show(data.astronaut())
    await h.runtime.start()
    await h.look(0.0)
    await h.look(1.0)  # the same frame: nothing new to look at
    assert h.layer.looks == 1
    h.show(data.coffee())
    await h.look(1.0)
    await asyncio.gather(
        h.runtime.shutdown("end_conversation_endpoint_hit"), h.runtime.shutdown("at once")
    )
    await h.runtime.shutdown("again")
    assert h.names().count("system.shutdown") == 1
    assert h.names()[-2:] == ["conversation.perception_analysis", "system.shutdown"]
    analyses = h.of(p.PerceptionAnalysis)
    assert len(analyses) == 1
    assert "someone was in view 50% of the time" in analyses[0].properties.analysis
    assert analyses[0].turn_idx is None and analyses[0].seq == h.events[-1].seq - 1  # type: ignore[operator]


async def test_audio_tools_from_the_users_spoken_turn() -> None:
    tools = normalise_tools(
        [
            {
                "name": "farewell",
                "description": 'The user says "goodbye".',
                "parameters": {"type": "object", "properties": {"said": {"type": "string"}}},
            }
        ]
    )
    h = await _harness(BasicPerception(PerceptionConfig(audio_tools=tools)))
    await h.runtime.start()
    h.runtime.feed(e.UserSpeechStarted(media_time=0.0))
    await h.clock.advance(1.0)
    h.runtime.feed(e.UserSpeechEnded(media_time=1.0))
    h.runtime.feed(e.UserTranscript("well goodbye then", final=True))
    await h.clock.advance(PAUSE_SILENCE["medium"] + 0.1)
    await h.layer.idle()
    await h.clock.advance(0)
    call = h.of(p.PerceptionToolCall)[0]
    assert (call.properties.modality, call.properties.name, call.properties.frames) == (
        "audio",
        "farewell",
        None,
    )
    assert isinstance(call.properties.arguments, str)
    assert json.loads(call.properties.arguments) == {"said": "well goodbye then"}
    assert call.turn_idx == 1
    await h.runtime.shutdown("end_conversation_endpoint_hit")


async def _speech_timing(h: Harness) -> tuple[float, float]:
    """(respond -> replica started speaking, its utterance duration), on the clock."""
    asked = h.clock.now()
    h.respond("Tell me something.")
    await h.clock.advance(3.0)
    started = [x for x in h.of(p.ReplicaStartedSpeaking)][-1]
    stopped = [x for x in h.of(p.ReplicaStoppedSpeaking)][-1]
    assert started.timestamp is not None
    return started.timestamp - asked, stopped.properties.duration


async def test_a_failing_engine_is_reported_once_and_speech_goes_on() -> None:
    def broken(images: Sequence[Image]) -> Observation:
        raise PerceptionUnavailable("vision model at http://127.0.0.1:9/v1: cannot connect")

    h = await _harness(FakeEngine(observe=broken), "I am still here.", "Still talking.")
    h.show(data.astronaut())
    await h.runtime.start()
    for _ in range(3):
        await h.look(1.0)
        h.show(data.astronaut())
    errors = h.of(p.ErrorEvent)
    assert [x.properties.code for x in errors] == ["perception_unavailable"]
    assert "cannot connect" in errors[0].properties.message
    latency, duration = await _speech_timing(h)
    assert latency <= 0.02 and duration == pytest.approx(0.8)
    await h.runtime.shutdown("end_conversation_endpoint_hit")
    assert h.of(p.PerceptionAnalysis)[0].properties.analysis == "fake analysis"


async def test_a_hanging_engine_never_delays_speech_or_the_end() -> None:
    release = threading.Event()

    def hang(images: Sequence[Image]) -> Observation:
        release.wait(10)
        return Observation("too late")

    engine = FakeEngine(PerceptionConfig(timeout=0.5), observe=hang)
    h = await _harness(engine, "Here I am.")
    h.show(data.astronaut())
    try:
        await h.runtime.start()
        await h.clock.advance(0.1)  # the first look is now stuck in the worker thread
        latency, duration = await _speech_timing(h)
        assert latency <= 0.02 and duration == pytest.approx(0.6)
        errors = h.of(p.ErrorEvent)
        assert [x.properties.code for x in errors] == ["perception_unavailable"]
        assert "did not answer within 1 s" in errors[0].properties.message
        await h.runtime.shutdown("end_conversation_endpoint_hit")  # does not wait for it
        assert h.names()[-2:] == ["conversation.perception_analysis", "system.shutdown"]
        assert "stuck" in h.of(p.PerceptionAnalysis)[0].properties.analysis
        assert not any(isinstance(x, p.Utterance) and x.properties.visual_context for x in h.events)
    finally:
        release.set()
