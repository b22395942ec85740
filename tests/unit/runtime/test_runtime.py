"""The runtime on a virtual clock with scripted plugins: no sockets, no real sleeps."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field

import pytest

from openreplica import protocol as p
from openreplica.engine import PAUSE_SILENCE, EngineSettings
from openreplica.engine import io as e
from openreplica.plugins.base import LLMUnavailable, TextDelta, ToolCallRequest
from openreplica.plugins.scripted import ScriptedLLM, ScriptedTTS
from openreplica.runtime import ConversationRuntime, RuntimePlugins, VirtualClock

RATE = 16000


@dataclass
class Sink:
    frames: list[tuple[float, bytes]] = field(default_factory=list)
    clock: VirtualClock | None = None

    def write(self, pcm: bytes, sample_rate: int) -> None:
        assert sample_rate == RATE
        assert self.clock is not None
        self.frames.append((self.clock.now(), pcm))


@dataclass
class Harness:
    runtime: ConversationRuntime
    clock: VirtualClock
    llm: ScriptedLLM
    tts: ScriptedTTS
    events: list[p.Event] = field(default_factory=list)
    errors: list[p.ErrorEvent] = field(default_factory=list)

    def names(self) -> list[str]:
        return [p.event_type_of(type(x)) for x in self.events]

    def send(self, data: str) -> None:
        self.runtime.submit(p.decode_interaction(data), lambda err, _: self.errors.append(err))


async def _harness(llm: ScriptedLLM, **settings: object) -> Harness:
    clock = VirtualClock()
    tts = ScriptedTTS(sample_rate=RATE, ms_per_word=200)
    ids = itertools.count(1)
    settings.setdefault("presence_interval", 0.0)  # heartbeats have their own tests
    runtime = ConversationRuntime(
        "c1",
        EngineSettings(output_sample_rate=RATE, **settings),  # type: ignore[arg-type]
        RuntimePlugins(tts=tts, llm=llm),
        clock,
        new_inference_id=lambda: f"inf-{next(ids)}",
    )
    h = Harness(runtime, clock, llm, tts)
    runtime.subscribe(lambda event, data: h.events.append(event))
    await runtime.start()
    return h


RESPOND = '{"event_type": "conversation.respond", "properties": {"text": "%s"}}'
INTERRUPT = '{"event_type": "conversation.interrupt"}'


async def test_a_reply_takes_the_time_of_its_audio_and_events_are_sequenced() -> None:
    h = await _harness(ScriptedLLM.replies("Hello there. How are you today?"))
    h.send(RESPOND % "Hi")
    await h.clock.advance(5.0)
    assert h.names()[:4] == [
        "system.replica_joined",
        "conversation.utterance",
        "conversation.replica.started_speaking",
        "conversation.started_speaking",
    ]
    assert h.names()[-2:] == [
        "conversation.replica.stopped_speaking",
        "conversation.stopped_speaking",
    ]
    assert [x.seq for x in h.events] == list(range(1, len(h.events) + 1))
    started = next(x for x in h.events if isinstance(x, p.ReplicaStartedSpeaking))
    stopped = next(x for x in h.events if isinstance(x, p.ReplicaStoppedSpeaking))
    assert stopped.properties.duration == pytest.approx(1.2)  # 6 words x 200 ms
    assert stopped.timestamp - started.timestamp == pytest.approx(1.2, abs=0.021)  # type: ignore[operator]
    final = [x for x in h.events if isinstance(x, p.UtteranceStreaming)][-1]
    assert final.properties.final and final.properties.speech == "Hello there. How are you today?"
    assert h.llm.calls[0].messages[-1].content == "Hi"
    assert h.tts.texts == ["Hello there.", "How are you today?"]


async def test_interrupt_stops_the_audio_within_one_frame() -> None:
    h = await _harness(ScriptedLLM.replies("One two three four five six seven eight."))
    sink = Sink(clock=h.clock)
    h.runtime.add_speech_listener(sink)
    h.send(RESPOND % "Count")
    await h.clock.advance(0.5)
    interrupted_at = h.clock.now()
    h.send(INTERRUPT)
    await h.clock.advance(2.0)
    after = [t for t, _ in sink.frames if t > interrupted_at]
    assert after == []
    stopped = next(x for x in h.events if isinstance(x, p.ReplicaStoppedSpeaking))
    assert stopped.properties.interrupted is True
    assert stopped.timestamp == pytest.approx(interrupted_at)
    heard = h.runtime.engine.context.history[-1].content
    assert heard and heard != "One two three four five six seven eight."
    assert "One two three four five six seven eight.".startswith(heard)


async def test_llm_failure_is_a_broadcast_error_and_the_conversation_goes_on() -> None:
    llm = ScriptedLLM(
        [
            LLMUnavailable("LLM at http://127.0.0.1:1/v1: connection refused"),
            [TextDelta("Back again.")],
        ]
    )
    h = await _harness(llm)
    h.send(RESPOND % "Hi")
    await h.clock.advance(0.1)
    errors = [x for x in h.events if isinstance(x, p.ErrorEvent)]
    assert len(errors) == 1 and errors[0].seq is None
    assert errors[0].properties.code == "llm_unavailable"
    assert "connection refused" in errors[0].properties.message
    h.send(RESPOND % "Again")
    await h.clock.advance(2.0)
    assert any(isinstance(x, p.ReplicaStoppedSpeaking) for x in h.events)


async def test_no_llm_configured_says_how_to_configure_one() -> None:
    clock = VirtualClock()
    runtime = ConversationRuntime("c1", EngineSettings(), RuntimePlugins(tts=ScriptedTTS()), clock)
    events: list[p.Event] = []
    runtime.subscribe(lambda event, _: events.append(event))
    await runtime.start()
    runtime.submit(p.decode_interaction(RESPOND % "Hi"))
    error = next(x for x in events if isinstance(x, p.ErrorEvent))
    assert "OPENREPLICA_LLM_BASE_URL" in error.properties.message


async def test_errors_for_one_sender_go_only_to_that_sender() -> None:
    h = await _harness(ScriptedLLM([]), pipeline_mode="echo")
    h.send(RESPOND % "Hi")
    assert [x.properties.code for x in h.errors] == ["not_allowed_in_mode"]
    assert not any(isinstance(x, p.ErrorEvent) for x in h.events)


async def test_tool_call_round_trip_through_the_runtime() -> None:
    llm = ScriptedLLM(
        [
            [ToolCallRequest("call_1", "get_time", "{}")],
            [TextDelta("It is noon.")],
        ]
    )
    h = await _harness(llm)
    h.send(RESPOND % "What time is it?")
    await h.clock.advance(0.1)
    call = next(x for x in h.events if isinstance(x, p.ToolCall))
    assert (call.properties.name, call.properties.tool_call_id) == ("get_time", "call_1")
    h.send(
        '{"event_type": "conversation.tool_result", "properties": '
        '{"tool_call_id": "call_1", "name": "get_time", "output": "12:00"}}'
    )
    await h.clock.advance(2.0)
    assert h.llm.calls[1].messages[-1].content == "12:00"
    spoken = [x for x in h.events if isinstance(x, p.Utterance) and x.properties.role == "replica"]
    assert spoken[-1].properties.speech == "It is noon."


async def test_user_turn_commits_after_the_pause_on_the_virtual_clock() -> None:
    h = await _harness(ScriptedLLM.replies("Sure."))
    start = h.clock.now()
    h.runtime.feed(e.UserSpeechStarted(media_time=0.0))
    await h.clock.advance(1.0)
    h.runtime.feed(e.UserSpeechEnded(media_time=1.0))
    h.runtime.feed(e.UserTranscript("can you help", final=True))
    await h.clock.advance(PAUSE_SILENCE["medium"] - 0.05)
    assert not any(isinstance(x, p.Utterance) for x in h.events)
    await h.clock.advance(0.1)
    user = next(x for x in h.events if isinstance(x, p.Utterance))
    assert user.properties.speech == "can you help" and user.turn_idx == 1
    assert user.timestamp == pytest.approx(start + 1.0 + PAUSE_SILENCE["medium"])


async def test_shutdown_cuts_speech_and_is_the_last_event() -> None:
    h = await _harness(ScriptedLLM.replies("A very long answer that goes on."))
    h.send(RESPOND % "Talk")
    await h.clock.advance(0.3)
    await h.runtime.shutdown("end_conversation_endpoint_hit")
    assert h.names()[-1] == "system.shutdown"
    assert isinstance(h.events[-1], p.Shutdown)
    assert h.events[-1].properties.shutdown_reason == "end_conversation_endpoint_hit"
    assert "conversation.replica.stopped_speaking" in h.names()
    count = len(h.events)
    h.send(RESPOND % "Anyone?")
    await h.clock.advance(1.0)
    assert len(h.events) == count


async def test_shutdown_leaves_no_task_waiting_on_the_clock() -> None:
    """The timer task sleeps until the engine's next deadline (a heartbeat here); a
    shutdown in the middle of that sleep ends the sleeper too, not just the timer task."""
    h = await _harness(ScriptedLLM.replies(), presence_interval=5.0)
    await h.clock.advance(1.0)
    await h.runtime.shutdown("done")
    left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert left == []


# ----------------------------------------------------------------------- presence


async def test_the_heartbeat_beats_every_interval_sequenced_until_shutdown() -> None:
    h = await _harness(ScriptedLLM.replies("Hello there."), presence_interval=5.0)
    await h.clock.advance(4.9)
    assert "system.replica_present" not in h.names()
    h.send(RESPOND % "Hi")  # a reply in between: beats interleave with its events
    await h.clock.advance(10.2)
    beats = [x for x in h.events if isinstance(x, p.ReplicaPresent)]
    start = h.events[0].timestamp or 0.0
    assert [(x.timestamp or 0.0) - start for x in beats] == [5.0, 10.0, 15.0]
    assert all(x.properties.replica_id == "r-aria" and x.turn_idx is None for x in beats)
    assert [x.seq for x in h.events] == list(range(1, len(h.events) + 1))
    await h.runtime.shutdown("done")
    count = len(h.events)
    await h.clock.advance(20.0)
    assert len(h.events) == count and h.names()[-1] == "system.shutdown"


async def test_an_interval_of_zero_sends_no_heartbeat() -> None:
    h = await _harness(ScriptedLLM.replies(), presence_interval=0.0)
    await h.clock.advance(60.0)
    assert h.names() == ["system.replica_joined"]
