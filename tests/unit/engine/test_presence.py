"""The `system.replica_present` schedule and its place in the engine (SPEC §1.2 [added])."""

from __future__ import annotations

from openreplica.engine import ConversationEngine, EngineSettings
from openreplica.engine import io as e
from openreplica.engine.presence import Heartbeat
from openreplica.protocol import ReplicaPresent


def test_a_heartbeat_is_due_each_interval_and_a_stall_sends_one_not_a_burst() -> None:
    beat = Heartbeat(5.0)
    assert beat.deadline is None and not beat.due(100.0)  # not started: never due
    beat.start(0.0)
    # (mypy keeps `deadline is None` from before start(): the ignore is for that narrowing)
    progress = (beat.deadline, beat.due(4.99), beat.due(5.0), beat.deadline)
    assert progress == (5.0, False, True, 10.0)  # type: ignore[comparison-overlap]
    assert beat.due(31.0) and not beat.due(31.0)  # 10..30 were missed: one beat, then 36
    assert beat.deadline == 36.0
    beat.stop()
    assert beat.deadline is None and not beat.due(40.0)
    off = Heartbeat(0.0)
    off.start(0.0)
    assert off.deadline is None


def test_the_engine_plans_and_emits_beats_and_stops_at_shutdown() -> None:
    engine = ConversationEngine("c1", EngineSettings(presence_interval=2.0), lambda: "i")
    engine.start(10.0)
    assert engine.next_deadline() == 12.0
    fx = engine.fire_timers(12.0)
    (emit,) = fx
    assert isinstance(emit, e.Emit) and isinstance(emit.event, ReplicaPresent)
    assert emit.event.properties.replica_id == "r-aria"
    assert engine.next_deadline() == 14.0
    engine.shutdown("done", 13.0)
    assert engine.next_deadline() is None and engine.fire_timers(14.0) == []
