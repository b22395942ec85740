"""Perception inputs in the engine: visual context on the user's turn and in the LLM
context, perception tool calls, the analysis once before shutdown."""

from __future__ import annotations

from openreplica import protocol as p
from openreplica.engine import io as e
from openreplica.engine.perception import VISUAL_CONTEXT_NOTE

from .timeline import Timeline, respond

SEEN = "One person is in view, facing the camera; the room is well lit."


def test_visual_context_goes_on_the_user_utterance_and_into_the_llm_context() -> None:
    t = Timeline()
    t.start()
    t.feed(e.VisualContextUpdated(SEEN), 0.5)
    t.feed(respond("Can you see me?"), 1.0)
    user = next(
        x.event
        for x in t.of(e.Emit)
        if isinstance(x.event, p.Utterance) and x.event.properties.role == "user"
    )
    assert user.properties.visual_context == SEEN
    start = t.of(e.StartGeneration)[-1]
    last = start.messages[-1]
    assert last.role == "user"
    assert last.content == f"Can you see me?\n\n{VISUAL_CONTEXT_NOTE} {SEEN}"
    # the wire form carries it as a property
    assert f'"visual_context":"{SEEN}"' in p.encode(user).decode()


def test_no_visual_context_leaves_the_turn_untouched() -> None:
    t = Timeline()
    t.start()
    t.feed(e.VisualContextUpdated("   "), 0.5)
    t.feed(respond("Hello"), 1.0)
    user = next(x.event for x in t.of(e.Emit) if isinstance(x.event, p.Utterance))
    assert user.properties.visual_context is None
    assert b"visual_context" not in p.encode(user)
    assert t.of(e.StartGeneration)[-1].messages[-1].content == "Hello"


def test_each_turn_keeps_what_was_seen_then() -> None:
    t = Timeline()
    t.start()
    t.feed(e.VisualContextUpdated("No one is in view of the camera; the room is dark."), 0.5)
    t.feed(respond("First"), 1.0)
    t.feed(e.VisualContextUpdated(SEEN), 2.0)
    t.feed(respond("Second"), 3.0)
    users = [m.content for m in t.of(e.StartGeneration)[-1].messages if m.role == "user"]
    assert "room is dark" in users[0] and SEEN in users[1]


def test_spoken_turn_gets_the_visual_context_too() -> None:
    t = Timeline()
    t.start()
    t.feed(e.UserSpeechStarted(media_time=0.0), 0.0)
    t.feed(e.UserSpeechEnded(media_time=1.0), 1.0)
    t.feed(e.VisualContextUpdated(SEEN), 1.1)  # the on-demand look, before the commit
    t.feed(e.UserTranscript("can you see me", final=True), 1.2)
    t.tick(5.0)
    user = next(x.event for x in t.of(e.Emit) if isinstance(x.event, p.Utterance))
    assert (user.properties.speech, user.properties.visual_context) == ("can you see me", SEEN)


def test_a_perception_tool_call_carries_the_turn_and_a_fresh_inference_id() -> None:
    t = Timeline()
    t.start()
    t.feed(respond("Hi"), 1.0)
    reply = t.of(e.StartGeneration)[-1]
    n = len(t.effects)
    t.feed(
        e.PerceptionToolCallDetected("vision", "user_left", {"count": 0}, ("QUJD",)),
        2.0,
    )
    t.feed(e.PerceptionToolCallDetected("audio", "said_goodbye", '{"phrase": "bye"}'), 2.5)
    assert t.events(n) == [
        (
            "conversation.perception_tool_call",
            1,
            "inf-2",
            "vision",
            "user_left",
            {"count": 0},
            [p.Frame(data="QUJD", mime_type="image/jpeg")],
        ),
        (
            "conversation.perception_tool_call",
            1,
            "inf-3",
            "audio",
            "said_goodbye",
            '{"phrase": "bye"}',
            None,
        ),
    ]
    assert t.engine.speaking_generation == reply.gen
    # a perception tool call neither starts nor interrupts anything
    assert not any(isinstance(x, e.CancelGeneration | e.StopPlayout) for x in t.effects[n:])


def test_the_analysis_is_emitted_once_and_before_shutdown() -> None:
    t = Timeline()
    t.start()
    t.feed(e.PerceptionAnalysisReady("Someone was in view 90% of the time."), 5.0)
    t.feed(e.PerceptionAnalysisReady("a second one"), 5.0)
    t.effects += t.engine.shutdown("end_conversation_endpoint_hit", 5.0)
    t.feed(e.PerceptionAnalysisReady("after the end"), 6.0)
    names = [x[0] for x in t.events()]
    assert names == [
        "system.replica_joined",
        "conversation.perception_analysis",
        "system.shutdown",
    ]
    analysis = t.events()[1]
    assert analysis == (
        "conversation.perception_analysis",
        None,
        None,
        "Someone was in view 90% of the time.",
    )
