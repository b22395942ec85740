"""Idle-life schedules are pure functions of (seed, t)."""

from __future__ import annotations

from openreplica.plugins.avatar.motion import BlinkSchedule, GazeSchedule, HeadMotion


def test_blink_schedule_does_not_depend_on_query_order() -> None:
    times = [i * 0.04 for i in range(1500)]
    forward = BlinkSchedule(5)
    backward = BlinkSchedule(5)
    a = [forward.closure(t) for t in times]
    b = [backward.closure(t) for t in reversed(times)][::-1]
    assert a == b
    assert all(0.0 <= c <= 1.0 for c in a)


def test_gaze_and_motion_are_bounded_and_deterministic() -> None:
    g1, g2 = GazeSchedule(3), GazeSchedule(3)
    m = HeadMotion(3, scale=300.0)
    for i in range(0, 3000, 7):
        t = i * 0.01
        x, y = g1.gaze(t)
        assert (x, y) == g2.gaze(t)
        assert -1.0 <= x <= 1.0 and -1.0 <= y <= 1.0
        pose = m.pose(t)
        assert abs(pose.dx) <= m.max_offset() and abs(pose.dy) <= m.max_offset()
        assert abs(pose.roll_deg) < 2.6
    assert HeadMotion(3, 300.0, amount=0.0).pose(1.0).dx == 0.0
