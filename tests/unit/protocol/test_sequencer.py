"""Example-based tests of the sequencer rules (SPEC §3)."""

from __future__ import annotations

import pytest

from openreplica import protocol as p


def _user_utterance(turn: int | None = None) -> p.Utterance:
    props = p.UtteranceProps(role="user", speech="hello")
    return p.Utterance(conversation_id="c", turn_idx=turn, properties=props)


def test_first_event_is_seq_1_and_timestamps_never_go_back() -> None:
    sequencer = p.Sequencer("c")
    joined = p.ReplicaJoined(conversation_id="c", properties=p.ReplicaJoinedProps(replica_id="r"))
    first = sequencer.stamp(joined, now=100.0)
    second = sequencer.stamp(_user_utterance(), now=99.0)  # the caller's clock stepped back
    assert (first.seq, second.seq) == (1, 2)
    assert second.timestamp == 100.0


def test_system_events_carry_no_turn_idx_and_turn_events_get_the_current_one() -> None:
    sequencer = p.Sequencer("c")
    assert sequencer.stamp(_user_utterance(), 1.0).turn_idx == 0
    assert sequencer.stamp(_user_utterance(turn=3), 2.0).turn_idx == 3
    assert sequencer.stamp(p.UserStartedSpeaking(conversation_id="c"), 3.0).turn_idx == 3
    shutdown = p.Shutdown(
        conversation_id="c", properties=p.ShutdownProps(shutdown_reason="x"), turn_idx=3
    )
    assert sequencer.stamp(shutdown, 4.0).turn_idx is None


def test_errors_are_never_sequenced_and_other_conversations_are_refused() -> None:
    sequencer = p.Sequencer("c")
    error = p.ErrorEvent(conversation_id="c", properties=p.ErrorProps(code="x", message="y"))
    with pytest.raises(ValueError, match="never sequenced"):
        sequencer.stamp(error, 1.0)
    with pytest.raises(ValueError, match="sequencer of 'c'"):
        sequencer.stamp(p.UserStartedSpeaking(conversation_id="d"), 1.0)


def test_log_keeps_the_last_capacity_events_and_says_what_it_covers() -> None:
    sequencer = p.Sequencer("c", capacity=10_000)
    for i in range(10_050):
        sequencer.stamp(_user_utterance(), float(i))
    log = sequencer.log
    assert len(log) == 10_000
    assert log.first_seq == 51 and log.last_seq == 10_050
    assert log.covers(50) and not log.covers(49)
    assert [e.seq for e in log.replay(10_047)] == [10_048, 10_049, 10_050]
    assert log.replay(10_050) == []


def test_sequencer_continues_after_a_restart() -> None:
    sequencer = p.Sequencer("c", last_seq=41, last_timestamp=50.0, turn_idx=4)
    event = sequencer.stamp(p.UserStartedSpeaking(conversation_id="c"), 10.0)
    assert (event.seq, event.timestamp, event.turn_idx) == (42, 50.0, 4)
