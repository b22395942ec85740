"""SpeechDetector: hysteresis, blips, minimum silence and `detected_after`."""

from __future__ import annotations

import pytest

from openreplica.engine import io as e
from openreplica.engine.speech_detector import DetectorSettings, SpeechDetector, SpeechEdge

FRAME = 0.032  # silero's 512-sample window at 16 kHz


def run(detector: SpeechDetector, probabilities: list[float]) -> list[SpeechEdge]:
    edges: list[SpeechEdge] = []
    for i, p in enumerate(probabilities):
        edge = detector.push(p, i * detector.frame_duration)
        if edge is not None:
            edges.append(edge)
    return edges


def test_minimum_frames_come_from_the_settings() -> None:
    d = SpeechDetector(0.02, DetectorSettings(min_speech=0.06, min_silence=0.1))
    assert (d.min_speech_frames, d.min_silence_frames) == (3, 5)
    d = SpeechDetector(FRAME, DetectorSettings(min_speech=0.06, min_silence=0.1))
    assert (d.min_speech_frames, d.min_silence_frames) == (2, 4)


def test_start_is_dated_to_the_onset_and_end_to_the_last_speech_frame() -> None:
    d = SpeechDetector(FRAME, DetectorSettings(min_speech=0.06, min_silence=0.1))
    probs = [0.0] * 10 + [0.9] * 20 + [0.0] * 10
    started, ended = run(d, probs)
    assert isinstance(started, e.UserSpeechStarted)
    assert started.media_time == pytest.approx(10 * FRAME)
    # confirmed at the end of the 2nd speech frame
    assert started.detected_after == pytest.approx(2 * FRAME)
    assert isinstance(ended, e.UserSpeechEnded)
    assert ended.media_time == pytest.approx(30 * FRAME)  # end of the last speech frame
    assert ended.detected_after == pytest.approx(4 * FRAME)  # 4 silent frames to be sure


def test_short_blips_never_become_speech() -> None:
    d = SpeechDetector(FRAME, DetectorSettings(min_speech=0.1))  # 4 frames
    probs = [0.0, 0.9, 0.0, 0.95, 0.9, 0.0, 0.9, 0.9, 0.9, 0.1, 0.0]
    assert run(d, probs) == []
    assert not d.speaking and not d.pending


def test_hysteresis_between_the_thresholds() -> None:
    settings = DetectorSettings(
        on_threshold=0.6, off_threshold=0.3, min_speech=0.0, min_silence=0.0
    )
    d = SpeechDetector(FRAME, settings)
    # 0.5 is below `on`: silent stays silent
    assert run(d, [0.5, 0.5, 0.5]) == []
    assert d.push(0.7, 3 * FRAME) == e.UserSpeechStarted(3 * FRAME, FRAME)
    # speaking: 0.4 is above `off`, so it is still speech
    assert d.push(0.4, 4 * FRAME) is None and d.speaking
    assert d.push(0.31, 5 * FRAME) is None and d.speaking
    ended = d.push(0.29, 6 * FRAME)
    assert ended == e.UserSpeechEnded(6 * FRAME, FRAME)


def test_a_short_gap_does_not_split_speech() -> None:
    d = SpeechDetector(FRAME, DetectorSettings(min_speech=0.05, min_silence=0.15))  # 5 frames
    probs = [0.9] * 10 + [0.0] * 4 + [0.9] * 10 + [0.0] * 5
    edges = run(d, probs)
    assert [type(x) for x in edges] == [e.UserSpeechStarted, e.UserSpeechEnded]
    assert edges[1].media_time == pytest.approx(24 * FRAME)


def test_onset_run_is_broken_by_a_dip_below_on() -> None:
    d = SpeechDetector(FRAME, DetectorSettings(min_speech=0.09))  # 3 frames
    edges = run(d, [0.9, 0.9, 0.2, 0.9, 0.9, 0.9])
    assert edges == [e.UserSpeechStarted(3 * FRAME, pytest.approx(3 * FRAME))]  # type: ignore[arg-type]


def test_close_ends_speech_that_is_going() -> None:
    d = SpeechDetector(FRAME, DetectorSettings(min_speech=0.0, min_silence=0.2))
    run(d, [0.9] * 5 + [0.0] * 2)
    # two silent frames counted: the speech ended at frame 5
    assert d.close(7 * FRAME) == e.UserSpeechEnded(5 * FRAME, pytest.approx(2 * FRAME))  # type: ignore[arg-type]
    assert d.close(8 * FRAME) is None
    d2 = SpeechDetector(FRAME, DetectorSettings(min_speech=0.0))
    run(d2, [0.9] * 5)
    assert d2.close(5 * FRAME) == e.UserSpeechEnded(5 * FRAME, 0.0)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="thresholds"):
        DetectorSettings(on_threshold=0.3, off_threshold=0.5)
    with pytest.raises(ValueError, match="negative"):
        DetectorSettings(min_speech=-1)
    with pytest.raises(ValueError, match="frame_duration"):
        SpeechDetector(0.0)
