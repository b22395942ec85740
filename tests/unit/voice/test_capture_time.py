"""CaptureTimes: how late audio arrived, from its arrival times alone."""

from __future__ import annotations

import pytest

from openreplica.runtime.capture_time import CaptureTimes

CHUNK = 0.02


def on_time(times: CaptureTimes, start: float, media: float, seconds: float) -> float:
    """Chunks arriving as they are recorded, from media time `media` at `start`."""
    late = 0.0
    for k in range(1, round(seconds / CHUNK) + 1):
        late = times.arrived(media + k * CHUNK, start + k * CHUNK)
    return late


def test_audio_that_arrives_as_it_is_recorded_is_not_late() -> None:
    times = CaptureTimes()
    assert on_time(times, 100.0, 0.0, 2.0) == pytest.approx(0.0)


def test_after_a_stall_the_burst_is_late_by_how_long_each_chunk_waited() -> None:
    times = CaptureTimes()
    on_time(times, 100.0, 0.0, 1.0)  # media 1.0 at 101.0
    # the loop was busy 0.2 s: the 10 chunks recorded meanwhile come at once, at 101.2
    lates = [times.arrived(1.0 + k * CHUNK, 101.2) for k in range(1, 11)]
    assert lates == pytest.approx([0.2 - k * CHUNK for k in range(1, 11)])
    # caught up: on time again
    assert times.arrived(1.22, 101.22) == pytest.approx(0.0)


def test_a_steady_delay_and_jitter_count_only_above_the_fastest_arrival() -> None:
    times = CaptureTimes()
    jitter = [0.03, 0.01, 0.04, 0.03, 0.01, 0.05]  # network delay on top of 0.01
    lates = [
        times.arrived(k * CHUNK, 100.0 + k * CHUNK + 0.01 + j) for k, j in enumerate(jitter, 1)
    ]
    assert lates == pytest.approx([0.0, 0.0, 0.03, 0.02, 0.0, 0.04])


def test_a_gap_in_sending_is_forgotten_after_the_window() -> None:
    """A sender that stops (silence suppression) makes later audio look late; only for
    the window, and clock drift cannot build up either."""
    times = CaptureTimes(window=0.5)
    on_time(times, 100.0, 0.0, 1.0)  # media 1.0 at 101.0
    # nothing for 0.3 s, then paced chunks again
    arrivals = [101.32 + k * CHUNK for k in range(20)]
    lates = [times.arrived(1.02 + k * CHUNK, at) for k, at in enumerate(arrivals)]
    # until the last chunk before the gap (at 101.0) leaves the window
    assert lates == pytest.approx([0.3 if at <= 101.5 else 0.0 for at in arrivals])


def test_drift_between_the_sender_and_our_clock_does_not_accumulate() -> None:
    times = CaptureTimes(window=0.5)
    rate = 1.001  # the sender's clock 0.1 % slow: audio arrives ever later
    lates = [times.arrived(k * CHUNK, 100.0 + k * CHUNK * rate) for k in range(1, 3001)]
    assert max(lates) < 0.001  # over a minute, never more than the window's drift


def test_a_reset_starts_over() -> None:
    times = CaptureTimes()
    on_time(times, 100.0, 0.0, 1.0)
    times.reset()
    assert times.arrived(0.02, 200.0) == 0.0
