"""Scripted timelines of the user's voice: turn ends, sensitivity, barge-in."""

from __future__ import annotations

import pytest

from openreplica.engine import INTERRUPT_MIN_SPEECH, PAUSE_SILENCE, EngineSettings
from openreplica.engine import io as e

from .timeline import Timeline, interaction, respond


def _speak(t: Timeline, start: float, end: float, text: str) -> None:
    t.feed(e.UserSpeechStarted(media_time=start), start)
    t.feed(e.UserTranscript(text[: len(text) // 2], final=False), (start + end) / 2)
    # the voice path sends its latest guess at the speech's first silent frame
    t.feed(e.UserTranscript(text, final=False), end)
    t.feed(e.UserSpeechEnded(media_time=end), end)
    t.feed(e.UserTranscript(text, final=True), end + 0.05)


@pytest.mark.parametrize("level", ["superlow", "verylow", "low", "medium", "high"])
def test_turn_ends_after_the_documented_silence_and_not_before(level: str) -> None:
    # no preemptive reply: the reply's start marks the commit here (see test_end_of_turn)
    t = Timeline(EngineSettings(preemptive_replies=False))
    t.feed(
        interaction(
            '{"event_type": "conversation.sensitivity", '
            f'"properties": {{"participant_pause_sensitivity": "{level}"}}}}'
        ),
        0.0,
    )
    _speak(t, 1.0, 2.0, "what time is it")
    silence = PAUSE_SILENCE[level]  # type: ignore[index]
    assert t.engine.next_deadline() == pytest.approx(2.0 + silence)
    t.tick(2.0 + silence - 0.01)
    assert t.engine.turn_idx == 0 and not t.of(e.StartGeneration)
    t.tick(2.0 + silence)
    assert t.engine.turn_idx == 1
    user = [x for x in t.events() if x[0] == "conversation.utterance"]
    assert user == [("conversation.utterance", 1, None, "user", "what time is it")]


def test_a_pause_shorter_than_the_silence_continues_the_same_turn() -> None:
    t = Timeline()
    _speak(t, 1.0, 2.0, "I would like")
    t.tick(2.0 + PAUSE_SILENCE["medium"] / 2)
    _speak(t, 2.2, 3.0, "a coffee")
    t.tick(3.0 + PAUSE_SILENCE["medium"])
    assert t.engine.turn_idx == 1
    # the reply prepared at the first pause was cancelled when the user went on
    started = [x.messages[-1].content for x in t.of(e.StartGeneration)]
    assert started == ["I would like", "I would like a coffee"]
    assert e.CancelGeneration(t.of(e.StartGeneration)[0].gen) in t.effects


def test_user_speaking_events_and_partial_captions() -> None:
    t = Timeline()
    _speak(t, 1.0, 2.5, "hello there")
    t.tick(2.5 + PAUSE_SILENCE["medium"])
    kinds = [x[0] for x in t.events()]
    assert kinds == [
        "conversation.user.started_speaking",
        "conversation.started_speaking",
        "conversation.utterance.streaming",
        "conversation.utterance.streaming",  # the guess sent at the first silent frame
        "conversation.user.stopped_speaking",
        "conversation.stopped_speaking",
        "conversation.utterance.streaming",
        "conversation.utterance",
    ]
    # unsequenced: the sequencer gives user speaking events the current turn_idx
    assert t.events()[5] == ("conversation.stopped_speaking", None, None, "user", 1.5, False)
    assert t.events()[6][3:] == ("user", "hello there", 2, True, None)


def test_the_turn_waits_for_a_late_final_transcript() -> None:
    t = Timeline()
    t.feed(e.UserSpeechStarted(media_time=1.0), 1.0)
    t.feed(e.UserSpeechEnded(media_time=2.0), 2.0)
    t.tick(3.0)
    assert t.engine.turn_idx == 0
    t.feed(e.UserTranscript("late words", final=True), 3.2)
    assert t.engine.turn_idx == 1


def test_noise_with_an_empty_transcript_starts_no_turn() -> None:
    t = Timeline()
    _speak(t, 1.0, 1.2, "")
    t.tick(5.0)
    assert t.engine.turn_idx == 0


def _speaking_reply(t: Timeline) -> tuple[int, float]:
    t.feed(respond("Tell me a story"), 0.0)
    gen = t.of(e.StartGeneration)[-1].gen
    fx = t.feed(e.LLMToken(gen, "Once upon a time there was a fox."), 0.0)
    fx += t.feed(e.LLMFinished(gen), 0.0)
    t.synthesize_all(fx, 0.0)
    return gen, t.play(gen, 0, 0.4, 0.0)


def test_barge_in_interrupts_at_high_sensitivity() -> None:
    t = Timeline(EngineSettings())
    t.feed(
        interaction(
            '{"event_type": "conversation.sensitivity", '
            '"properties": {"participant_interrupt_sensitivity": "high"}}'
        ),
        0.0,
    )
    gen, now = _speaking_reply(t)
    t.feed(e.UserSpeechStarted(media_time=now, detected_after=0.05), now)
    deadline = t.engine.next_deadline()
    assert deadline == pytest.approx(now + INTERRUPT_MIN_SPEECH["high"] - 0.05)
    fx = t.tick(deadline)  # type: ignore[arg-type]
    assert e.StopPlayout(gen) in fx
    stopped = [x for x in t.events() if x[0] == "conversation.replica.stopped_speaking"]
    assert stopped[0][4] is True


def test_a_short_burst_does_not_interrupt_at_low_sensitivity() -> None:
    t = Timeline()
    t.feed(
        interaction(
            '{"event_type": "conversation.sensitivity", '
            '"properties": {"participant_interrupt_sensitivity": "low"}}'
        ),
        0.0,
    )
    gen, now = _speaking_reply(t)
    t.feed(e.UserSpeechStarted(media_time=now), now)
    t.tick(now + 0.1)
    t.feed(e.UserSpeechEnded(media_time=now + 0.15), now + 0.15)  # a 150 ms "mm-hmm"
    t.tick(now + 2.0)
    assert not t.of(e.StopPlayout)
    assert t.engine.speaking_generation == gen


def test_sensitivity_change_mid_conversation_applies_to_the_next_turn() -> None:
    t = Timeline()
    _speak(t, 1.0, 2.0, "first")
    t.tick(2.0 + PAUSE_SILENCE["medium"])
    assert t.engine.turn_idx == 1
    t.feed(
        interaction(
            '{"event_type": "conversation.sensitivity", '
            '"properties": {"participant_pause_sensitivity": "superlow"}}'
        ),
        2.5,
    )
    _speak(t, 3.0, 4.0, "second")
    t.tick(4.0 + PAUSE_SILENCE["medium"])
    assert t.engine.turn_idx == 1  # the old, shorter pause no longer ends the turn
    t.tick(4.0 + PAUSE_SILENCE["superlow"])
    assert t.engine.turn_idx == 2
