"""`user_audio_analysis` and `user_visual_analysis` on user utterances (SPEC §1.2 [added]):
the measurement of a segment, the sentence of a turn, and where the engine puts them."""

from __future__ import annotations

import re

import numpy as np
import pytest

from openreplica import protocol as p
from openreplica.engine import EngineSettings
from openreplica.engine import io as e
from openreplica.engine.audio_analysis import TurnAudio, describe_turn_audio
from openreplica.runtime.speech_measure import measure_speech

from .timeline import Timeline, respond

RATE = 16000


def tone(hz: float, seconds: float, amplitude: float) -> bytes:
    t = np.arange(int(seconds * RATE)) / RATE
    wave = amplitude * np.sin(2 * np.pi * hz * t) * (1 + 0.3 * np.sin(2 * np.pi * 2 * hz * t))
    return (wave * 32767 * 0.7).astype("<i2").tobytes()


@pytest.mark.parametrize("hz", [110.0, 180.0, 260.0])
def test_a_voiced_segment_is_measured_for_length_loudness_and_pitch(hz: float) -> None:
    loud = measure_speech(tone(hz, 1.5, 0.5), RATE)
    assert loud.seconds == pytest.approx(1.5)
    assert loud.pitch_hz == pytest.approx(hz, rel=0.04)
    quiet = measure_speech(tone(hz, 1.5, 0.05), RATE)
    assert quiet.loudness_dbfs == pytest.approx(loud.loudness_dbfs - 20, abs=0.5)


def test_silence_and_noise_have_no_pitch() -> None:
    assert measure_speech(bytes(2 * RATE), RATE).pitch_hz is None
    noise = np.random.default_rng(3).normal(0, 3000, RATE).astype("<i2").tobytes()
    measured = measure_speech(noise, RATE)
    assert measured.pitch_hz is None and -25 < measured.loudness_dbfs < -15
    assert measure_speech(b"", RATE) == e.SpeechMeasurement(0.0, -120.0, None)


def test_the_sentence_names_pace_volume_and_pitch() -> None:
    assert describe_turn_audio(10, 4.0, -24.4, 182.0) == (
        "Spoke at a moderate pace (about 150 words per minute), at a normal volume "
        "(-24 dBFS), in a medium-pitched voice (around 182 Hz)."
    )
    fast_loud_high = describe_turn_audio(20, 4.0, -10.0, 260.0)
    assert "fast pace (about 300" in fast_loud_high and "loud volume" in fast_loud_high
    assert "high-pitched" in fast_loud_high
    slow = describe_turn_audio(3, 4.0, -40.0, None)
    assert "slow pace" in slow and "quiet volume" in slow and slow.endswith("no clear pitch.")


def test_a_turn_adds_up_its_segments_and_starts_afresh() -> None:
    turn = TurnAudio()
    assert turn.take("hello") is None
    turn.add(e.SpeechMeasurement(1.0, -20.0, 100.0))
    turn.add(e.SpeechMeasurement(3.0, -20.0, 200.0))
    turn.add(e.SpeechMeasurement(1.0, -30.0, None))
    sentence = turn.take("one two three four five six seven eight nine ten")
    assert sentence is not None
    assert "about 120 words per minute" in sentence  # 10 words in 5 s
    assert "around 175 Hz" in sentence  # weighted by voiced seconds
    assert turn.take("again") is None


def test_a_spoken_turn_carries_both_analyses_and_a_typed_one_only_what_was_seen() -> None:
    t = Timeline(EngineSettings())
    t.feed(e.VisualContextUpdated("One person is in view, smiling."), 0.0)
    t.feed(e.UserSpeechStarted(0.0), 0.0)
    t.feed(e.UserSpeechEnded(2.0), 2.0)
    t.feed(e.UserSpeechMeasured(e.SpeechMeasurement(2.0, -22.0, 150.0)), 2.1)
    t.feed(e.UserTranscript("what is the weather like", final=True), 2.1)
    t.tick(3.0)
    t.feed(respond("and tomorrow"), 4.0)
    spoken, typed = [
        x.event.properties
        for x in t.effects
        if isinstance(x, e.Emit) and isinstance(x.event, p.Utterance)
    ]
    assert isinstance(spoken, p.UtteranceProps) and isinstance(typed, p.UtteranceProps)
    assert spoken.user_visual_analysis == spoken.visual_context == "One person is in view, smiling."
    assert spoken.user_audio_analysis is not None
    assert re.search(r"about 150 words per minute.*around 150 Hz", spoken.user_audio_analysis)
    assert typed.user_visual_analysis == "One person is in view, smiling."
    assert typed.user_audio_analysis is None
