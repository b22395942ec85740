"""What one utterance may be asked to speak is bounded (SPEC §2.6), and a refused echo
changes nothing: echo text per utterance, echoed audio waiting ahead of playout, LLM
text, and the segments handed to the TTS."""

from __future__ import annotations

import base64

from openreplica.engine import EngineSettings, SpeechLimits
from openreplica.engine import io as e

from .timeline import RATE, Timeline, echo, interaction, respond

LIMITS = SpeechLimits(max_utterance_chars=100, max_echo_audio_ahead=3.0, max_segment_chars=40)


def _timeline(**settings: object) -> Timeline:
    return Timeline(EngineSettings(limits=LIMITS, **settings))  # type: ignore[arg-type]


def _refusals(t: Timeline) -> list[tuple[str, str | None]]:
    return [(x.code, x.event_type) for x in t.of(e.SendError)]


def audio_chunk(seconds: float, rate: int = 16000, *, inference_id: str = "a1") -> str:
    audio = base64.b64encode(b"\x10\x00" * round(seconds * rate)).decode()
    return (
        '{"event_type": "conversation.echo", "properties": {"modality": "audio", '
        f'"inference_id": "{inference_id}", "sample_rate": {rate}, "audio": "{audio}", '
        '"done": false}}'
    )


# ------------------------------------------------------------------------------ text


def test_echo_text_over_the_utterance_cap_is_refused_and_changes_nothing() -> None:
    t = _timeline()
    fx = t.feed(echo("x" * 101), 0.0)
    assert [type(x) for x in fx] == [e.SendError]
    error = t.of(e.SendError)[0]
    assert (error.code, error.event_type, error.to_sender) == (
        "invalid_properties",
        "conversation.echo",
        True,
    )
    assert "`properties.text` is 101 characters" in error.message and "100" in error.message
    assert t.engine.speaking_generation is None
    fx = t.feed(echo("x" * 100), 0.1)  # at the cap is fine
    assert t.of(e.Synthesize) and t.engine.speaking_generation is not None


def test_chunks_of_one_echo_count_together_against_the_cap() -> None:
    t = _timeline()
    t.feed(echo("a " * 30, inference_id="i1", done=False), 0.0)
    t.feed(echo("b " * 15, inference_id="i1", done=False), 0.1)
    gen = t.engine.speaking_generation
    before = list(t.effects)
    t.feed(echo("c " * 15, inference_id="i1", done=False), 0.2)  # 60 + 30 + 30 > 100
    assert t.effects[len(before) :] == [t.of(e.SendError)[-1]]
    assert "already has 90" in t.of(e.SendError)[-1].message
    assert t.engine.speaking_generation == gen  # the utterance goes on untouched
    t.feed(echo("d", inference_id="i1", done=True), 0.3)  # and still takes what fits
    assert t.of(e.Synthesize)[-1].text.endswith("d")


def test_echo_text_is_handed_to_the_tts_in_segments_no_longer_than_the_cap() -> None:
    t = _timeline()
    text = " ".join(f"w{i}" for i in range(25))  # 89 characters, no sentence end
    assert len(text) == 89
    t.feed(echo(text), 0.0)
    segments = [x.text for x in t.of(e.Synthesize)]
    assert len(segments) > 1 and all(len(s) <= 40 for s in segments)
    assert " ".join(segments) == text


def test_llm_text_past_the_cap_is_not_spoken() -> None:
    t = _timeline()
    t.feed(respond("Talk forever"), 0.0)
    gen = t.of(e.StartGeneration)[0].gen
    for i in range(40):
        t.feed(e.LLMToken(gen, f" word{i:02d}."), 0.1)  # 8 characters each
    t.feed(e.LLMFinished(gen), 0.2)
    spoken = " ".join(x.text for x in t.of(e.Synthesize))
    assert len(spoken) <= 100
    assert spoken.startswith("word00. word01.") and "word13" not in spoken


# ----------------------------------------------------------------------------- audio


def test_echoed_audio_may_run_only_so_far_ahead_of_playout() -> None:
    t = _timeline()
    for _i in range(3):
        t.feed(interaction(audio_chunk(1.0)), 0.0)
    assert len(t.of(e.Play)) == 3 and not t.of(e.SendError)
    fx = t.feed(interaction(audio_chunk(0.5)), 0.0)  # 3 s already wait: 3.5 > 3
    assert [type(x) for x in fx] == [e.SendError]
    error = t.of(e.SendError)[0]
    assert (error.code, error.event_type) == ("audio_buffer_full", "conversation.echo")
    assert "3 s" in error.message and "real time" in error.message
    gen = t.engine.speaking_generation
    assert gen is not None
    now = t.play(gen, 0, 1.0, 0.0)  # one second played: room for one more second
    t.feed(interaction(audio_chunk(1.0)), now)
    assert len(t.of(e.Play)) == 4 and len(t.of(e.SendError)) == 1


def test_one_chunk_longer_than_the_bound_is_refused_on_its_own() -> None:
    t = _timeline()
    t.feed(interaction(audio_chunk(3.5, 8000)), 0.0)
    assert _refusals(t) == [("audio_buffer_full", "conversation.echo")]
    assert not t.of(e.Play) and t.engine.speaking_generation is None


def test_a_new_audio_echo_starts_with_an_empty_budget() -> None:
    t = _timeline()
    for _ in range(3):
        t.feed(interaction(audio_chunk(1.0, inference_id="a1")), 0.0)
    t.feed(interaction(audio_chunk(1.0, inference_id="a2")), 0.1)  # interrupts a1
    assert not t.of(e.SendError)
    assert t.of(e.StopPlayout) and t.of(e.Play)[-1].gen != t.of(e.Play)[0].gen


def test_echoes_waiting_for_the_greeting_count_against_the_limits() -> None:
    t = _timeline(custom_greeting="Hello and welcome.")
    t.start()
    for _ in range(3):
        t.feed(interaction(audio_chunk(1.0)), 0.1)
    t.feed(interaction(audio_chunk(1.0)), 0.1)
    t.feed(echo("y" * 101), 0.1)
    assert _refusals(t) == [
        ("audio_buffer_full", "conversation.echo"),
        ("invalid_properties", "conversation.echo"),
    ]
    greeting = t.of(e.Synthesize)[0]
    t.synthesize_all([greeting], 0.1)
    now = t.play(greeting.gen, 0, 0.6, 0.1)
    t.feed(e.PlayoutDrained(greeting.gen), now)  # the greeting ends: the waiting echo runs
    echoed = [x for x in t.of(e.Play) if x.gen != greeting.gen]
    assert sum(len(x.pcm) for x in echoed) == 3 * 2 * 16000
    # the waiting audio now waits in playout, so the budget is still spent
    t.feed(interaction(audio_chunk(0.5)), now)
    assert _refusals(t)[-1] == ("audio_buffer_full", "conversation.echo")


def test_audio_ahead_is_counted_at_the_output_rate() -> None:
    t = _timeline()
    t.feed(interaction(audio_chunk(2.0, 48000)), 0.0)
    t.feed(interaction(audio_chunk(1.0, 8000)), 0.0)
    assert not t.of(e.SendError)
    queued = t.engine._current.spoken.queued_samples  # type: ignore[union-attr]
    assert queued == 3 * RATE
