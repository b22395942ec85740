"""Visemes: phonemes to shapes, the playout-clock track, the video-side blend, the feed."""

from __future__ import annotations

import numpy as np
import pytest

from openreplica.plugins.audio import tone
from openreplica.plugins.avatar.lipsync import VisemeSmoother, openness, viseme_weights
from openreplica.plugins.visemes import (
    VISEMES,
    VisemeMark,
    viseme_at,
    viseme_for_phoneme,
    visemes_from_alignment,
)
from openreplica.runtime.visemes import VisemeTrack
from openreplica.transports.webrtc_tracks import SpeechFeed


@pytest.mark.parametrize(
    ("phoneme", "viseme"),
    [("m", "mbp"), ("b", "mbp"), ("p", "mbp"), ("f", "fv"), ("v", "fv"), ("ɑ", "aa"),
     ("u", "oo"), ("ʊ", "oo"), ("i", "ee"), ("ɛ", "ee"), ("t", "relaxed"), ("ə", "relaxed"),
     (".", "rest"), ("^", "rest")],
)  # fmt: skip
def test_phonemes_map_to_their_shapes(phoneme: str, viseme: str) -> None:
    assert viseme_for_phoneme(phoneme) == viseme


def test_alignment_marks_merge_neighbours_and_follow_stress_and_length() -> None:
    # "^ b ˈ ɑ ː b $": the stress mark takes the vowel's shape, the length mark too.
    marks = visemes_from_alignment(
        ["^", "b", "ˈ", "ɑ", "ː", "b", "$"], [100, 200, 50, 300, 100, 200, 100], 22050
    )
    assert marks == (
        VisemeMark(0, "rest"),
        VisemeMark(100, "mbp"),
        VisemeMark(300, "aa"),
        VisemeMark(750, "mbp"),
        VisemeMark(950, "rest"),
    )
    assert viseme_at(marks, 299) == "mbp" and viseme_at(marks, 300) == "aa"


def test_a_short_gap_between_words_keeps_the_lips_apart_a_long_one_rests() -> None:
    rate = 22050
    short = visemes_from_alignment(["ɑ", " ", "ɑ"], [1000, 500, 1000], rate)
    long = visemes_from_alignment(["ɑ", " ", "ɑ"], [1000, rate // 5, 1000], rate)
    assert [m.viseme for m in short] == ["aa", "relaxed", "aa"]
    assert [m.viseme for m in long] == ["aa", "rest", "aa"]
    with pytest.raises(ValueError, match="durations"):
        visemes_from_alignment(["a"], [1, 2], rate)


def test_track_leads_the_audio_and_forgets_a_stopped_generation() -> None:
    rate = 1000  # 1 sample per ms keeps the arithmetic readable
    track = VisemeTrack(rate, lead=0.04)
    track.add(1, 0, (VisemeMark(0, "mbp"), VisemeMark(100, "aa")), 200, rate)
    shown = [track.played(1, 0, 20) for _ in range(5)]
    # Frames start at 0, 20, 40, 60, 80 ms; "aa" sounds from 100 ms, shows from 60 ms.
    assert shown == ["mbp", "mbp", "mbp", "aa", "aa"]
    track.stop(1)
    assert track.played(1, 0, 20) is None
    track.add(2, 0, (), 200, rate)  # audio without visemes says nothing
    assert track.played(2, 0, 20) is None


def test_smoother_lands_closures_at_once_and_rests_on_silence() -> None:
    smooth = VisemeSmoother(frame_s=0.04, tau_s=0.035)
    w = smooth.update(["aa", "aa"])
    assert 0.5 < w[VISEMES.index("aa")] < 1.0  # eased in
    assert np.isclose(w.sum(), 1.0)
    w = smooth.update(["mbp", "mbp"])
    assert w[VISEMES.index("mbp")] == 1.0
    assert openness(smooth.update(["aa"])) > 0.5
    assert np.array_equal(smooth.update([]), viseme_weights("rest"))


def test_feed_sends_each_frames_viseme_with_it_and_nothing_after_a_stop() -> None:
    feed = SpeechFeed()
    frame = tone(220.0, 0.02, 48000)
    for i in range(6):
        feed.write(frame, 48000)
        feed.write_viseme("aa" if i < 3 else "mbp")
    sent = []
    for _ in range(8):
        feed.pop()
        sent += feed.take_visemes()
    assert sent == ["aa", "aa", "aa", "mbp", "mbp", "mbp"]
    # Interrupted: the playout writes nothing more, so nothing more is shown.
    assert feed.pop() is None and feed.take_visemes() == []


def test_an_interrupt_rests_the_face_while_queued_audio_drains() -> None:
    feed = SpeechFeed()
    frame = tone(220.0, 0.02, 48000)
    for _ in range(4):
        feed.write(frame, 48000)
        feed.write_viseme("aa")
    feed.pop()
    feed.pop()
    feed.rest()  # playout stopped with two frames still queued here
    smooth = VisemeSmoother()
    assert feed.pop() is not None  # the queued audio still goes out, unclipped
    assert np.array_equal(smooth.update(feed.take_visemes()), viseme_weights("rest"))


def test_after_an_interrupt_the_resampler_tail_rests_too_until_new_speech() -> None:
    """At 24 kHz the feed's resampler holds back part of each frame; after an interrupt
    that tail is flushed (two idle periods later) as speech, and must show rest, not its
    level (the lips opened again 40 ms after the interrupt)."""
    feed = SpeechFeed()
    frame = tone(220.0, 0.02, 24000)
    for _ in range(4):
        feed.write(frame, 24000)
        feed.write_viseme("aa")
    feed.pop()
    feed.pop()
    feed.rest()
    feed.take_visemes()
    drained: list[tuple[list[str], float]] = []  # (visemes, level) of each speech frame
    for _ in range(10):
        if feed.pop() is not None:
            drained.append((list(feed.take_visemes()), feed.take_level()))
    tail = drained[-1]
    assert tail[1] > 0.1, "the flushed tail carries speech (else this tests nothing)"
    assert all(visemes == ["rest"] for visemes, _ in drained), drained
    # new speech after the interrupt shows its shapes again
    for _ in range(3):
        feed.write(frame, 24000)
        feed.write_viseme("mbp")
    sent: list[str] = []
    for _ in range(10):
        feed.pop()
        sent += feed.take_visemes()
    assert sent and set(sent) == {"mbp"}, sent
