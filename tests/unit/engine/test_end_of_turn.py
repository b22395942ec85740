"""The end-of-turn model's decisions (`TurnScored`) and preemptive replies, on scripted
timelines."""

from __future__ import annotations

from dataclasses import replace

import pytest

from openreplica import protocol as p
from openreplica.engine import PAUSE_SILENCE, TURN_WAIT, EngineSettings, TurnTaking
from openreplica.engine import io as e

from .timeline import Timeline, interaction

SMART = EngineSettings(turn_taking=TurnTaking(detector="smart_turn"))


def speak(t: Timeline, start: float, end: float, text: str, detected_after: float = 0.1) -> None:
    t.feed(e.UserSpeechStarted(media_time=start), start)
    t.feed(e.UserSpeechEnded(media_time=end, detected_after=detected_after), end + detected_after)
    t.feed(e.UserTranscript(text, final=True), end + detected_after + 0.02)


def user_utterances(t: Timeline) -> list[p.UtteranceProps]:
    return [
        x.event.properties
        for x in t.of(e.Emit)
        if isinstance(x.event, p.Utterance) and x.event.properties.role == "user"
    ]


@pytest.mark.parametrize("level", list(TURN_WAIT))
def test_a_complete_turn_commits_at_the_floor(level: p.SensitivityLevel) -> None:
    t = Timeline(
        replace(SMART, turn_taking=TurnTaking(pause_sensitivity=level, detector="smart_turn"))
    )
    speak(t, 1.0, 2.0, "what time is it")
    wait = TURN_WAIT[level]
    assert t.engine.next_deadline() == pytest.approx(2.0 + wait.cap)
    t.feed(e.TurnScored(speech_end=2.0, probability=0.93), 2.13)
    floor_at = max(2.13, 2.0 + wait.floor)
    t.tick(floor_at - 0.001)
    assert t.engine.turn_idx == (1 if floor_at == 2.13 else 0)
    t.tick(floor_at)
    assert t.engine.turn_idx == 1
    (props,) = user_utterances(t)
    assert props.turn_decided_by == "model"
    assert props.turn_wait == pytest.approx(floor_at - 2.0, abs=1e-3)
    assert t.engine.turn_stats.decided_by_model == 1


def test_an_incomplete_turn_waits_until_the_cap() -> None:
    t = Timeline(SMART)
    speak(t, 1.0, 2.0, "I would like to book")
    t.feed(e.TurnScored(speech_end=2.0, probability=0.08), 2.13)
    cap = TURN_WAIT["medium"].cap
    t.tick(2.0 + cap - 0.01)
    assert t.engine.turn_idx == 0
    t.tick(2.0 + cap)
    (props,) = user_utterances(t)
    assert props.turn_decided_by == "silence" and props.turn_wait == pytest.approx(cap)


def test_a_mid_sentence_pause_continues_the_turn_and_a_stale_score_is_ignored() -> None:
    t = Timeline(SMART)
    speak(t, 1.0, 2.0, "I would like to book")
    t.feed(e.TurnScored(speech_end=2.0, probability=0.1), 2.13)
    speak(t, 2.8, 3.6, "a table for two")
    t.feed(e.TurnScored(speech_end=2.0, probability=0.99), 3.65)  # late, for the old pause
    assert t.engine.turn_idx == 0
    t.feed(e.TurnScored(speech_end=3.6, probability=0.97), 3.74)
    t.tick(3.6 + TURN_WAIT["medium"].floor)
    (props,) = user_utterances(t)
    assert props.speech == "I would like to book a table for two"


def test_without_a_score_the_fixed_silence_decides() -> None:
    t = Timeline(SMART)
    speak(t, 1.0, 2.0, "hello")
    t.feed(e.TurnScored(speech_end=2.0, probability=None), 2.13)
    t.tick(2.0 + PAUSE_SILENCE["medium"])
    (props,) = user_utterances(t)
    assert props.turn_decided_by == "silence"


def test_the_silence_detector_ignores_the_model() -> None:
    t = Timeline()
    speak(t, 1.0, 2.0, "hello")
    t.feed(e.TurnScored(speech_end=2.0, probability=0.99), 2.13)
    assert t.engine.turn_idx == 0
    t.tick(2.0 + PAUSE_SILENCE["medium"])
    assert t.engine.turn_idx == 1


# ------------------------------------------------------------------ preemptive replies


def test_a_prepared_reply_is_used_when_the_turn_commits_with_the_same_text() -> None:
    t = Timeline(SMART)
    speak(t, 1.0, 2.0, "what time is it")
    (start,) = t.of(e.StartGeneration)  # at the pause, before the commit
    assert start.messages[-1] == e.ContextMessage(role="user", content="what time is it")
    mark = len(t.effects)
    t.feed(e.LLMToken(start.gen, "It is noon. "), 2.15)
    t.feed(e.LLMToken(start.gen, "Have a nice day."), 2.16)
    t.feed(e.LLMFinished(start.gen), 2.17)
    # only the first segment (the reply's first two words) is synthesised ahead; its
    # audio is held, nothing is emitted
    assert [x.text for x in t.of(e.Synthesize)] == ["It is"]
    t.synthesize_all(t.of(e.Synthesize), 2.18)
    assert not t.events(mark) and not t.of(e.Play)
    t.feed(e.TurnScored(speech_end=2.0, probability=0.9), 2.19)
    t.tick(2.0 + TURN_WAIT["medium"].floor)
    assert len(t.of(e.StartGeneration)) == 1  # no second LLM call
    assert [x.text for x in t.of(e.Synthesize)] == ["It is", "noon.", "Have a nice day."]
    assert [x.segment for x in t.of(e.Play)] == [0]
    t.play(start.gen, 0, 0.6, 2.2)
    events = t.events(mark)
    assert events[0] == ("conversation.utterance", 1, None, "user", "what time is it")
    replica = [x for x in t.events(mark) if x[0] == "conversation.replica.started_speaking"]
    assert replica and replica[0][1] == 1
    stats = t.engine.turn_stats
    assert (stats.preemptive_started, stats.preemptive_used, stats.preemptive_wasted) == (1, 1, 0)


def test_a_prepared_reply_for_a_turn_that_went_on_never_shows() -> None:
    t = Timeline(SMART)
    speak(t, 1.0, 2.0, "I would like to book")
    (early,) = t.of(e.StartGeneration)
    t.feed(e.LLMToken(early.gen, "Sure, what would you like to book?"), 2.15)
    t.feed(e.LLMFinished(early.gen), 2.16)
    t.synthesize_all(t.of(e.Synthesize), 2.17)
    t.feed(e.TurnScored(speech_end=2.0, probability=0.2), 2.18)
    speak(t, 2.8, 3.6, "a table for two")
    assert e.CancelGeneration(early.gen) in t.effects
    # late output of the cancelled reply is dropped by id
    t.feed(e.SpeechAudio(early.gen, 0, b"\x01\x00" * 4800, 24000), 3.7)
    t.feed(e.TurnScored(speech_end=3.6, probability=0.95), 3.75)
    t.tick(3.6 + TURN_WAIT["medium"].floor)
    later = t.of(e.StartGeneration)[-1]
    assert later.gen != early.gen
    assert later.messages[-1].content == "I would like to book a table for two"
    assert all(m.role != "assistant" for m in later.messages)
    assert not [x for x in t.of(e.Play) if x.gen == early.gen]
    t.feed(e.LLMToken(later.gen, "Booked."), 3.8)
    t.feed(e.LLMFinished(later.gen), 3.8)
    t.synthesize_all([x for x in t.of(e.Synthesize) if x.gen == later.gen], 3.8)
    t.play(later.gen, 0, 0.4, 3.8)
    # the cancelled reply took the first inference id; no event ever carried it
    ids = {x.event.inference_id for x in t.of(e.Emit)}
    assert "inf-2" in ids and "inf-1" not in ids
    stats = t.engine.turn_stats
    assert (stats.preemptive_started, stats.preemptive_used, stats.preemptive_wasted) == (2, 1, 1)


def test_a_reply_is_prepared_on_the_partial_at_the_pause_and_kept_when_the_final_agrees() -> None:
    t = Timeline(SMART)
    t.feed(e.UserSpeechStarted(media_time=1.0), 1.0)
    # the recogniser's guess once the speech's first silent frame came
    t.feed(e.UserTranscript("what time is it", final=False), 2.04)
    assert not t.of(e.StartGeneration)  # not a pause yet: nothing prepared
    t.feed(e.UserSpeechEnded(media_time=2.0, detected_after=0.1), 2.1)
    (start,) = t.of(e.StartGeneration)  # the pause is confirmed: prepared on the partial
    assert start.messages[-1].content == "what time is it"
    t.feed(e.UserTranscript("what time is it", final=False), 2.11)  # flushed again: same
    t.feed(e.UserTranscript("what time is it", final=True), 2.16)
    t.feed(e.TurnScored(speech_end=2.0, probability=0.9), 2.17)
    t.tick(2.0 + TURN_WAIT["medium"].floor)
    assert t.engine.turn_idx == 1
    assert len(t.of(e.StartGeneration)) == 1 and not t.of(e.CancelGeneration)
    stats = t.engine.turn_stats
    assert (stats.preemptive_started, stats.preemptive_used, stats.preemptive_wasted) == (1, 1, 0)


def test_a_reply_prepared_on_a_partial_the_final_corrects_is_replaced() -> None:
    t = Timeline(SMART)
    t.feed(e.UserSpeechStarted(media_time=1.0), 1.0)
    t.feed(e.UserSpeechEnded(media_time=2.0, detected_after=0.1), 2.1)
    t.feed(e.UserTranscript("what time is that", final=False), 2.11)
    (early,) = t.of(e.StartGeneration)
    mark = len(t.effects)
    t.feed(e.LLMToken(early.gen, "That is later."), 2.13)
    t.synthesize_all(t.of(e.Synthesize), 2.14)
    t.feed(e.UserTranscript("what time is it", final=True), 2.16)
    assert e.CancelGeneration(early.gen) in t.effects[mark:]
    later = t.of(e.StartGeneration)[-1]
    assert later.gen != early.gen and later.messages[-1].content == "what time is it"
    t.feed(e.TurnScored(speech_end=2.0, probability=0.9), 2.17)
    t.tick(2.0 + TURN_WAIT["medium"].floor)
    assert len(t.of(e.StartGeneration)) == 2  # the commit took the second one
    assert not [x for x in t.of(e.Play) if x.gen == early.gen]
    assert early.gen not in {getattr(x, "gen", None) for x in t.effects[-3:]}
    stats = t.engine.turn_stats
    assert (stats.preemptive_started, stats.preemptive_used, stats.preemptive_wasted) == (2, 1, 1)


def test_a_context_change_during_the_pause_discards_the_prepared_reply() -> None:
    t = Timeline()
    speak(t, 1.0, 2.0, "what time is it")
    (early,) = t.of(e.StartGeneration)
    t.feed(
        interaction(
            '{"event_type": "conversation.append_llm_context", '
            '"properties": {"context": "The user is in Paris."}}'
        ),
        2.2,
    )
    t.tick(2.0 + PAUSE_SILENCE["medium"])
    assert e.CancelGeneration(early.gen) in t.effects
    fresh = t.of(e.StartGeneration)[-1]
    assert fresh.gen != early.gen and "Paris" in fresh.messages[0].content


def test_a_tool_call_in_a_prepared_reply_discards_it_without_an_event() -> None:
    t = Timeline()
    speak(t, 1.0, 2.0, "what is the weather")
    (early,) = t.of(e.StartGeneration)
    mark = len(t.effects)
    t.feed(e.LLMToolCall(early.gen, "call-1", "get_weather", "{}"), 2.15)
    assert t.effects[mark:] == [e.CancelGeneration(early.gen)]
    t.tick(2.0 + PAUSE_SILENCE["medium"])
    assert t.of(e.StartGeneration)[-1].gen != early.gen


def test_a_reply_is_prepared_at_the_first_silent_frame_and_kept_through_the_confirmation() -> None:
    t = Timeline(SMART)
    t.feed(e.UserSpeechStarted(media_time=1.0), 1.0)
    t.feed(e.UserTranscript("what time is it", final=False), 1.9)
    assert not t.of(e.StartGeneration)  # still speaking
    t.feed(e.UserSpeechPausing(), 2.04)  # the first silent frame: the end may be coming
    (start,) = t.of(e.StartGeneration)
    assert start.messages[-1] == e.ContextMessage(role="user", content="what time is it")
    t.feed(e.UserSpeechEnded(media_time=2.0, detected_after=0.13), 2.13)
    t.feed(e.UserTranscript("what time is it", final=True), 2.15)
    t.feed(e.TurnScored(speech_end=2.0, probability=0.9), 2.16)
    t.tick(2.0 + TURN_WAIT["medium"].floor)
    assert len(t.of(e.StartGeneration)) == 1 and t.engine.turn_idx == 1
    stats = t.engine.turn_stats
    assert (stats.preemptive_started, stats.preemptive_used, stats.preemptive_wasted) == (1, 1, 0)


def test_a_reply_prepared_at_a_dip_in_the_speech_is_dropped_when_it_goes_on() -> None:
    t = Timeline(SMART)
    t.feed(e.UserSpeechStarted(media_time=1.0), 1.0)
    t.feed(e.UserTranscript("I would like", final=False), 1.5)
    t.feed(e.UserSpeechPausing(), 1.54)
    (early,) = t.of(e.StartGeneration)
    mark = len(t.effects)
    t.feed(e.UserSpeechResumed(), 1.6)  # a dip shorter than the end needs
    assert e.CancelGeneration(early.gen) in t.effects[mark:]
    t.feed(e.LLMToken(early.gen, "Sure."), 1.62)  # late output of it is dropped
    t.feed(e.UserTranscript("I would like a coffee", final=False), 2.0)
    assert len(t.of(e.StartGeneration)) == 1  # not while speaking
    speak_end = 2.4
    t.feed(e.UserSpeechPausing(), speak_end + 0.04)
    t.feed(e.UserSpeechEnded(media_time=speak_end, detected_after=0.13), speak_end + 0.13)
    t.feed(e.UserTranscript("I would like a coffee", final=True), speak_end + 0.15)
    t.feed(e.TurnScored(speech_end=speak_end, probability=0.9), speak_end + 0.16)
    t.tick(speak_end + TURN_WAIT["medium"].floor)
    later = t.of(e.StartGeneration)[-1]
    assert later.messages[-1].content == "I would like a coffee"
    assert not any(x.event.inference_id == "inf-1" for x in t.of(e.Emit))
    stats = t.engine.turn_stats
    assert (stats.preemptive_started, stats.preemptive_used, stats.preemptive_wasted) == (2, 1, 1)


def test_preemptive_replies_can_be_turned_off() -> None:
    t = Timeline(EngineSettings(preemptive_replies=False))
    speak(t, 1.0, 2.0, "what time is it")
    assert not t.of(e.StartGeneration)


def test_a_transcript_ending_on_a_dangling_word_waits_for_the_cap() -> None:
    t = Timeline(SMART)
    speak(t, 1.0, 2.0, "can you tell me about the")
    t.feed(e.TurnScored(speech_end=2.0, probability=0.97), 2.13)
    t.tick(2.0 + TURN_WAIT["medium"].floor)
    assert t.engine.turn_idx == 0 and t.engine.next_deadline() == pytest.approx(
        2.0 + TURN_WAIT["medium"].cap
    )
    t.tick(2.0 + TURN_WAIT["medium"].cap)
    (props,) = user_utterances(t)
    assert props.turn_decided_by == "silence"


@pytest.mark.parametrize(
    ("text", "dangling"),
    [
        ("I would like to book a", True),
        ("my favourite colour is the", True),
        ("remind me to", True),
        ("bread and", True),
        ("my favourite colour is", True),
        ("yes I can", False),
        ("what does it look like", False),
        ("please come in", False),
        ("", False),
    ],
)
def test_which_last_words_keep_a_turn_open(text: str, dangling: bool) -> None:
    from openreplica.engine.trailing_words import ends_mid_sentence

    assert ends_mid_sentence(text) is dangling
