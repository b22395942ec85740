"""Scripted timelines: interruptions, a second respond, tools, context, LLM failure."""

from __future__ import annotations

from openreplica import protocol as p
from openreplica.engine import EngineSettings
from openreplica.engine import io as e

from .timeline import INTERRUPT, Timeline, interaction, respond

R = "conversation.replica"


def _reply(t: Timeline, text: str, now: float, question: str = "Question?") -> int:
    """Respond, stream `text` from the LLM, synthesise it; returns the generation."""
    t.feed(respond(question), now)
    gen = t.of(e.StartGeneration)[-1].gen
    fx = t.feed(e.LLMToken(gen, text), now)
    fx += t.feed(e.LLMFinished(gen), now)
    t.synthesize_all(fx, now)
    return gen


def test_interrupt_mid_utterance_keeps_only_the_words_heard() -> None:
    t = Timeline(EngineSettings(first_segment_words=0))  # one segment: one sentence
    gen = _reply(t, "One two three four five.", 0.0)
    now = t.play(gen, 0, 0.5, 0.0)  # half the audio: "three" is past its midpoint
    mark = len(t.effects)
    fx = t.feed(INTERRUPT, now)
    assert e.StopPlayout(gen) in fx
    assert not any(isinstance(x, e.CancelGeneration) for x in fx)  # nothing left to cancel
    assert t.events(mark) == [
        ("conversation.utterance.streaming", 1, "inf-1", "replica", "One two three", 3, True, True),
        (f"{R}.stopped_speaking", 1, "inf-1", 0.5, True),
        ("conversation.stopped_speaking", 1, "inf-1", "replica", 0.5, True),
        ("conversation.replica_interrupted", 1, "inf-1"),
    ]
    assert t.engine.context.history[-1] == e.ContextMessage(
        role="assistant", content="One two three"
    )
    # late audio and tokens of the cancelled generation are dropped by id
    late = t.feed(e.AudioPlayed(gen, 0, 480), now + 0.01)
    late += t.feed(e.LLMToken(gen, "six"), now + 0.01)
    assert late == []


def test_interrupt_before_any_audio_cancels_silently() -> None:
    t = Timeline()
    t.feed(respond("Hello?"), 0.0)
    gen = t.of(e.StartGeneration)[-1].gen
    t.feed(e.LLMToken(gen, "Hi"), 0.1)
    mark = len(t.effects)
    fx = t.feed(INTERRUPT, 0.2)
    assert fx == [e.CancelGeneration(gen), e.StopPlayout(gen)]
    assert t.events(mark) == []
    assert t.engine.context.history[-1].role == "user"  # nothing was heard


def test_replica_interrupted_is_on_by_default_and_a_setting_turns_it_off() -> None:
    for setting, expected in ((True, True), (False, False)):
        t = Timeline(EngineSettings(emit_replica_interrupted=setting))
        gen = _reply(t, "One two three.", 0.0)
        now = t.play(gen, 0, 0.1, 0.0)
        t.feed(INTERRUPT, now)
        sent = t.events()[-1] == ("conversation.replica_interrupted", 1, "inf-1")
        assert sent is expected
    assert EngineSettings().emit_replica_interrupted is True


def test_second_respond_while_speaking_interrupts_then_starts_a_new_turn() -> None:
    t = Timeline()
    gen = _reply(t, "A long answer here.", 0.0)
    now = t.play(gen, 0, 0.3, 0.0)
    mark = len(t.effects)
    t.feed(respond("Stop, new question"), now)
    events = t.events(mark)
    assert [x[0] for x in events] == [
        "conversation.utterance.streaming",
        f"{R}.stopped_speaking",
        "conversation.stopped_speaking",
        "conversation.replica_interrupted",
        "conversation.utterance",
    ]
    assert events[1][1:3] == (1, "inf-1") and events[1][4] is True
    assert events[4] == ("conversation.utterance", 2, None, "user", "Stop, new question")
    assert t.of(e.StartGeneration)[-1].gen != gen


def test_overwrite_then_respond_uses_the_new_context_and_append_adds_to_it() -> None:
    t = Timeline(EngineSettings(system_prompt="Be brief.", context="Old context."))
    t.feed(
        interaction(
            '{"event_type": "conversation.overwrite_context", "properties": {"context": "New."}}'
        ),
        0.0,
    )
    t.feed(respond("Hi"), 0.1)
    system = t.of(e.StartGeneration)[-1].messages[0]
    assert system == e.ContextMessage(role="system", content="Be brief.\n\nNew.")
    t.feed(
        interaction(
            '{"event_type": "conversation.append_llm_context", "properties": {"text": "More."}}'
        ),
        0.2,
    )
    assert t.events()[-1][0] == "conversation.utterance"  # appending says nothing
    t.feed(respond("Again"), 0.3)
    assert t.of(e.StartGeneration)[-1].messages[0].content == "Be brief.\n\nNew.\nMore."


def test_tool_call_then_result_then_spoken_answer() -> None:
    t = Timeline(EngineSettings(tools=({"type": "function", "function": {"name": "weather"}},)))
    t.feed(respond("Weather in Paris?"), 0.0)
    first = t.of(e.StartGeneration)[-1]
    assert first.tools[0]["function"] == {"name": "weather"}
    t.feed(e.LLMToolCall(first.gen, "call_1", "weather", '{"city": "Paris"}'), 0.1)
    t.feed(e.LLMFinished(first.gen), 0.2)
    assert t.events()[-1] == (
        "conversation.tool_call",
        1,
        "inf-1",
        "weather",
        '{"city": "Paris"}',
        "call_1",
    )
    assert len(t.of(e.StartGeneration)) == 1
    t.feed(
        interaction(
            '{"event_type": "conversation.tool_result", "properties": '
            '{"tool_call_id": "call_1", "name": "weather", "output": "21 C and sunny"}}'
        ),
        0.5,
    )
    second = t.of(e.StartGeneration)[-1]
    assert second.gen != first.gen
    assert second.messages[-2].tool_calls == (("call_1", "weather", '{"city": "Paris"}'),)
    assert second.messages[-1] == e.ContextMessage(
        role="tool", content="21 C and sunny", tool_call_id="call_1", name="weather"
    )
    fx = t.feed(e.LLMToken(second.gen, "It is sunny."), 0.6)
    fx += t.feed(e.LLMFinished(second.gen), 0.6)
    t.synthesize_all(fx, 0.6)
    now = t.play(second.gen, 0, 0.6, 0.6)
    t.feed(e.PlayoutDrained(second.gen), now)
    spoken = [x for x in t.events() if x[0] == "conversation.utterance" and x[3] == "replica"]
    assert spoken == [("conversation.utterance", 1, "inf-2", "replica", "It is sunny.")]


def test_interrupt_during_a_tool_call_cancels_it_and_refuses_the_late_result() -> None:
    t = Timeline()
    t.feed(respond("Book a table"), 0.0)
    gen = t.of(e.StartGeneration)[-1].gen
    t.feed(e.LLMToolCall(gen, "call_9", "book", "{}"), 0.1)
    fx = t.feed(INTERRUPT, 0.2)
    assert e.CancelGeneration(gen) in fx
    assert t.engine.context.history[-1] == e.ContextMessage(
        role="tool",
        content="cancelled: the conversation moved on before the result arrived",
        tool_call_id="call_9",
        name="book",
    )
    fx = t.feed(
        interaction(
            '{"event_type": "conversation.tool_result", "properties": '
            '{"tool_call_id": "call_9", "output": "booked"}}'
        ),
        0.3,
    )
    assert len(fx) == 1 and isinstance(fx[0], e.SendError)
    assert fx[0].code == "invalid_properties" and "cancelled" in fx[0].message
    assert len(t.of(e.StartGeneration)) == 1
    unknown = t.feed(
        interaction(
            '{"event_type": "conversation.tool_result", "properties": '
            '{"tool_call_id": "nope", "output": "x"}}'
        ),
        0.4,
    )
    assert isinstance(unknown[0], e.SendError) and "no tool call 'nope'" in unknown[0].message


def test_llm_failure_reports_llm_unavailable_and_keeps_listening() -> None:
    t = Timeline()
    t.feed(respond("Hi"), 0.0)
    gen = t.of(e.StartGeneration)[-1].gen
    fx = t.feed(e.LLMFailed(gen, "LLM at http://127.0.0.1:9/v1: connection refused"), 0.1)
    assert fx == [
        e.SendError(
            p.ErrorCode.LLM_UNAVAILABLE,
            "LLM at http://127.0.0.1:9/v1: connection refused",
            None,
            to_sender=False,
        )
    ]
    assert t.engine.speaking_generation is None
    t.feed(respond("Still there?"), 0.2)
    assert len(t.of(e.StartGeneration)) == 2


def test_echo_mode_refuses_respond_and_tool_result_but_allows_echo() -> None:
    t = Timeline(EngineSettings(pipeline_mode="echo"))
    fx = t.feed(respond("Hi"), 0.0)
    assert isinstance(fx[0], e.SendError) and fx[0].code == "not_allowed_in_mode"
    assert fx[0].event_type == "conversation.respond"
    fx = t.feed(
        interaction(
            '{"event_type": "conversation.tool_result", "properties": '
            '{"tool_call_id": "c", "output": "x"}}'
        ),
        0.0,
    )
    assert fx[0].code == "not_allowed_in_mode"  # type: ignore[union-attr]
    assert t.engine.turn_idx == 0
    fx = t.feed(
        interaction('{"event_type": "conversation.echo", "properties": {"text": "Hello."}}'), 0.1
    )
    assert any(isinstance(x, e.Synthesize) for x in fx)
