"""Scripted timelines: respond, text echo, streamed audio echo, greeting."""

from __future__ import annotations

import base64

from openreplica.engine import EngineSettings
from openreplica.engine import io as e

from .timeline import INTERRUPT, Timeline, echo, interaction, respond

R = "conversation.replica"


def test_respond_speaks_the_reply_with_events_in_order_and_captions_word_by_word() -> None:
    t = Timeline()
    t.start()
    assert t.events() == [("system.replica_joined", None, None, "r-aria")]
    fx = t.feed(respond("How are you?"), 1.0)
    start = t.of(e.StartGeneration)[-1]
    assert start.messages[-1] == e.ContextMessage(role="user", content="How are you?")
    assert [type(x) for x in fx] == [e.Emit, e.StartGeneration]
    fx = t.feed(e.LLMToken(start.gen, "Hello there. "), 1.1)
    fx += t.feed(e.LLMToken(start.gen, "I am fine."), 1.2)
    fx += t.feed(e.LLMFinished(start.gen), 1.3)
    assert [(s.segment, s.text) for s in fx if isinstance(s, e.Synthesize)] == [
        (0, "Hello there."),
        (1, "I am fine."),
    ]
    t.synthesize_all(fx, 1.3)
    now = t.play(start.gen, 0, 0.4, 1.3)
    now = t.play(start.gen, 1, 0.6, now)
    t.feed(e.PlayoutDrained(start.gen), now)
    g = "inf-1"
    assert t.events() == [
        ("system.replica_joined", None, None, "r-aria"),
        ("conversation.utterance", 1, None, "user", "How are you?"),
        (f"{R}.started_speaking", 1, g),
        ("conversation.started_speaking", 1, g, "replica"),
        ("conversation.utterance", 1, g, "replica", "Hello there. I am fine."),
        ("conversation.utterance.streaming", 1, g, "replica", "Hello", 0, False, None),
        ("conversation.utterance.streaming", 1, g, "replica", "Hello there.", 1, False, None),
        ("conversation.utterance.streaming", 1, g, "replica", "Hello there. I", 2, False, None),
        ("conversation.utterance.streaming", 1, g, "replica", "Hello there. I am", 3, False, None),
        (
            "conversation.utterance.streaming", 1, g, "replica", "Hello there. I am fine.", 4,
            False, None,
        ),
        (
            "conversation.utterance.streaming", 1, g, "replica", "Hello there. I am fine.", 5,
            True, None,
        ),
        (f"{R}.stopped_speaking", 1, g, 1.0, False),
        ("conversation.stopped_speaking", 1, g, "replica", 1.0, False),
    ]  # fmt: skip
    assert t.engine.context.history[-1] == e.ContextMessage(
        role="assistant", content="Hello there. I am fine."
    )


def test_text_echo_bypasses_the_llm_and_is_added_to_the_context() -> None:
    t = Timeline()
    fx = t.feed(echo("Welcome to the demo.", inference_id="client-7"), 0.5)
    assert not t.of(e.StartGeneration)
    t.synthesize_all(fx, 0.5)
    synth = t.of(e.Synthesize)[0]
    now = t.play(synth.gen, 0, 0.8, 0.5)
    t.feed(e.PlayoutDrained(synth.gen), now)
    events = t.events()
    assert events[0] == (f"{R}.started_speaking", 0, "client-7")
    assert events[2] == ("conversation.utterance", 0, "client-7", "replica", "Welcome to the demo.")
    assert events[-3][3:] == ("replica", "Welcome to the demo.", 4, True, None)
    assert events[-2] == (f"{R}.stopped_speaking", 0, "client-7", 0.8, False)
    assert t.engine.context.history[-1].content == "Welcome to the demo."
    assert t.engine.turn_idx == 0  # an echo does not start a turn


def _audio(seconds: float, rate: int) -> str:
    return base64.b64encode(b"\x10\x00" * int(seconds * rate)).decode()


def test_streamed_audio_echo_is_one_utterance_that_ends_after_done() -> None:
    t = Timeline()
    chunk = (
        '{"event_type": "conversation.echo", "properties": {"modality": "audio", '
        '"inference_id": "a1", "sample_rate": 16000, "audio": "%s", "done": %s}}'
    )
    t.feed(interaction(chunk % (_audio(0.2, 16000), "false")), 0.0)
    plays = t.of(e.Play)
    assert [(x.segment, x.sample_rate, len(x.pcm)) for x in plays] == [(0, 16000, 6400)]
    now = t.play(plays[0].gen, 0, 0.2, 0.0)  # playout starts before `done`
    assert t.events()[0] == (f"{R}.started_speaking", 0, "a1")
    t.feed(e.PlayoutDrained(plays[0].gen), now)  # an underrun is not the end
    assert not [x for x in t.events() if "stopped" in x[0]]
    t.feed(interaction(chunk % (_audio(0.1, 16000), '"true"')), now)
    # every chunk of one audio echo is one segment (no per-chunk bookkeeping to grow)
    assert [x.segment for x in t.of(e.Play)] == [0, 0]
    now = t.play(plays[0].gen, 0, 0.1, now)
    t.feed(e.PlayoutDrained(plays[0].gen), now)
    assert t.events() == [
        (f"{R}.started_speaking", 0, "a1"),
        ("conversation.started_speaking", 0, "a1", "replica"),
        (f"{R}.stopped_speaking", 0, "a1", 0.3, False),
        ("conversation.stopped_speaking", 0, "a1", "replica", 0.3, False),
    ]
    # audio at 16 kHz is accounted at the 24 kHz output rate
    assert t.engine.speaking_generation is None


def test_audio_echo_without_done_ends_after_the_grace_period() -> None:
    t = Timeline()
    audio = _audio(0.1, 16000)
    data = (
        '{"event_type": "conversation.echo", "properties": {"modality": "audio", '
        f'"audio": "{audio}"}}}}'
    )
    t.feed(interaction(data), 0.0)
    gen = t.of(e.Play)[0].gen
    now = t.play(gen, 0, 0.1, 0.0)
    t.feed(e.PlayoutDrained(gen), now)
    assert t.engine.next_deadline() == now + 1.0
    t.tick(now + 0.5)
    assert t.engine.speaking_generation == gen
    t.tick(now + 1.0)
    assert t.events()[-2] == (f"{R}.stopped_speaking", 0, "inf-1", 0.1, False)


def test_greeting_is_spoken_first_and_cannot_be_interrupted() -> None:
    t = Timeline(EngineSettings(custom_greeting="Hi! I am Aria."))
    fx = t.start(0.0)
    t.synthesize_all(fx, 0.0)
    greeting = t.of(e.Synthesize)[0].gen
    now = t.play(greeting, 0, 0.1, 0.0)
    t.feed(INTERRUPT, now)
    t.feed(e.UserSpeechStarted(media_time=now), now)
    t.tick(now + 5.0)  # far past any barge-in threshold
    t.feed(respond("Tell me a joke"), now + 0.1)
    assert not t.of(e.StopPlayout)
    assert not t.of(e.StartGeneration)  # the reply waits for the greeting
    now = t.play(greeting, 0, 0.1, now)
    now = t.play(greeting, 1, 0.6, now)
    t.feed(e.PlayoutDrained(greeting), now)
    stopped = [x for x in t.events() if x[0] == f"{R}.stopped_speaking"]
    assert stopped == [(f"{R}.stopped_speaking", 0, "inf-1", 0.8, False)]
    assert t.of(e.StartGeneration)  # now the deferred respond runs
    assert t.engine.turn_idx == 1


def test_work_waiting_for_the_greeting_runs_in_arrival_order_each_item_cutting_the_last() -> None:
    """Found by the stateful test: a cut made while running waiting work used to start
    the next waiting item inside it, leaving an echo playing under a newer reply."""
    t = Timeline(EngineSettings(custom_greeting="Hi."))
    t.synthesize_all(t.start(0.0), 0.0)
    greeting = t.of(e.Synthesize)[0].gen
    t.feed(respond("First?"), 0.0)
    t.feed(respond("Second?"), 0.0)
    t.feed(echo("Third.", inference_id="e3"), 0.0)
    now = t.play(greeting, 0, 0.2, 0.0)
    mark = len(t.effects)
    t.feed(e.PlayoutDrained(greeting), now)
    first, second = (x.gen for x in t.of(e.StartGeneration))
    after = [(type(x).__name__, getattr(x, "gen", None)) for x in t.effects[mark:]]
    assert [x for x in after if x[0] != "Emit"] == [
        ("StartGeneration", first),
        ("CancelGeneration", first),
        ("StopPlayout", first),
        ("StartGeneration", second),
        ("CancelGeneration", second),
        ("StopPlayout", second),
        ("Synthesize", second + 1),  # the echo, last
    ]
    assert t.engine.speaking_generation == second + 1
    assert t.engine.turn_idx == 2


def test_a_shutdown_during_the_greeting_drops_the_work_waiting_for_it() -> None:
    t = Timeline(EngineSettings(custom_greeting="Hi."))
    t.synthesize_all(t.start(0.0), 0.0)
    t.feed(respond("Anyone there?"), 0.0)
    fx = t.engine.shutdown("end_conversation_endpoint_hit", 0.1)
    assert not [x for x in fx if isinstance(x, e.StartGeneration)]
    assert [x.event.event_type for x in fx if isinstance(x, e.Emit)] == ["system.shutdown"]
    assert t.engine.turn_idx == 0
