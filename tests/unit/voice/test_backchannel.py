"""Engine rule: speech under the replica that ends before it may interrupt is a
backchannel — it neither interrupts nor starts a turn of its own."""

from __future__ import annotations

from openreplica.engine import INTERRUPT_MIN_SPEECH, PAUSE_SILENCE
from openreplica.engine import io as e

from ..engine.timeline import Timeline, interaction, respond


def _speaking(t: Timeline, level: str) -> tuple[int, float]:
    t.feed(
        interaction(
            '{"event_type": "conversation.sensitivity", '
            f'"properties": {{"participant_interrupt_sensitivity": "{level}"}}}}'
        ),
        0.0,
    )
    fx = t.feed(respond("tell me a story"), 0.0)
    gen = t.of(e.StartGeneration)[0].gen
    fx = t.feed(e.LLMToken(gen, "Once upon a time there was a fox who lived in a wood."), 0.0)
    fx += t.feed(e.LLMFinished(gen), 0.0)
    t.synthesize_all(fx, 0.0)
    return gen, t.play(gen, 0, 0.4, 0.0)


def test_a_backchannel_transcript_starts_no_turn() -> None:
    t = Timeline()
    gen, now = _speaking(t, "low")
    t.feed(e.UserSpeechStarted(now, detected_after=0.06), now)
    t.feed(e.UserSpeechEnded(now + 0.15, detected_after=0.1), now + 0.25)
    t.feed(e.UserTranscript("mm hmm", final=True), now + 0.3)
    t.tick(now + 0.25 + PAUSE_SILENCE["medium"])
    assert t.engine.turn_idx == 1  # only the `respond`
    assert t.engine.speaking_generation == gen
    assert not t.of(e.StopPlayout)


def test_speech_long_enough_to_interrupt_is_a_turn() -> None:
    t = Timeline()
    gen, now = _speaking(t, "high")
    t.feed(e.UserSpeechStarted(now, detected_after=0.06), now)
    t.tick(now + INTERRUPT_MIN_SPEECH["high"])
    assert e.StopPlayout(gen) in t.effects
    t.feed(e.UserSpeechEnded(now + 0.8, detected_after=0.1), now + 0.9)
    t.feed(e.UserTranscript("wait a moment", final=True), now + 0.95)
    t.tick(now + 0.8 + PAUSE_SILENCE["medium"])
    assert t.engine.turn_idx == 2
    assert t.of(e.StartGeneration)[-1].messages[-1].content == "wait a moment"


def test_short_speech_after_the_replica_finished_still_counts() -> None:
    t = Timeline()
    _gen, now = _speaking(t, "low")
    t.feed(e.UserSpeechStarted(now, detected_after=0.06), now)
    # the replica is cut by something else (the interrupt interaction) before the end
    t.feed(interaction('{"event_type": "conversation.interrupt"}'), now + 0.05)
    t.feed(e.UserSpeechEnded(now + 0.3, detected_after=0.1), now + 0.4)
    t.feed(e.UserTranscript("yes", final=True), now + 0.45)
    t.tick(now + 0.3 + PAUSE_SILENCE["medium"])
    assert t.engine.turn_idx == 2
