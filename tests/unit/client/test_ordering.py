"""ReorderBuffer: seq order, exactly once, bounded wait, on virtual time (pure)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from openreplica.client.ordering import Gap, ReorderBuffer


@dataclass(frozen=True)
class Ev:
    seq: int | None
    name: str = ""


def seqs(events: list[Ev]) -> list[int | None]:
    return [e.seq for e in events]


def test_in_order_events_pass_straight_through() -> None:
    buf: ReorderBuffer[Ev] = ReorderBuffer(0.5, last_seq=0)
    out = [e for s in range(1, 6) for e in buf.push(Ev(s), now=0.0)]
    assert seqs(out) == [1, 2, 3, 4, 5]
    assert buf.deadline() is None and buf.last_seq == 5


def test_out_of_order_is_held_until_the_hole_fills() -> None:
    buf: ReorderBuffer[Ev] = ReorderBuffer(0.5, last_seq=0)
    assert seqs(buf.push(Ev(1), 0.0)) == [1]
    assert buf.push(Ev(3), 0.1) == []
    assert buf.push(Ev(4), 0.2) == []
    assert buf.deadline() == 0.1 + 0.5  # the wait started with the first held event
    assert buf.gap(0.5) is None  # still within the bounded wait
    assert seqs(buf.push(Ev(2), 0.3)) == [2, 3, 4]
    assert buf.deadline() is None and buf.held == 0


def test_gap_reported_after_the_bounded_wait_then_filled_or_skipped() -> None:
    buf: ReorderBuffer[Ev] = ReorderBuffer(0.5, last_seq=0)
    buf.push(Ev(1), 0.0)
    buf.push(Ev(4), 1.0)
    assert buf.gap(1.49) is None
    assert buf.gap(1.5) == Gap(2, 3)
    buf.restart_wait(2.0)  # the client asked the server again
    assert buf.gap(2.4) is None and buf.deadline() == 2.5
    assert seqs(buf.skip(2.5)) == [4]
    assert buf.skipped == [Gap(2, 3)]
    assert buf.last_seq == 4 and buf.deadline() is None
    assert buf.push(Ev(3), 3.0) == []  # too late now: never delivered out of order


def test_partial_progress_restarts_the_wait_for_the_next_hole() -> None:
    buf: ReorderBuffer[Ev] = ReorderBuffer(1.0, last_seq=0)
    buf.push(Ev(2), 0.0)
    buf.push(Ev(4), 0.0)
    assert seqs(buf.push(Ev(1), 0.8)) == [1, 2]
    assert buf.deadline() == 1.8  # a fresh wait for seq 3
    assert buf.gap(1.8) == Gap(3, 3)
    assert str(Gap(3, 3)) == "seq 3" and str(Gap(2, 5)) == "seq 2..5"


def test_duplicates_are_dropped_and_counted() -> None:
    buf: ReorderBuffer[Ev] = ReorderBuffer(0.5, last_seq=0)
    buf.push(Ev(1), 0)
    buf.push(Ev(3), 0)
    assert buf.push(Ev(1), 0) == []  # already delivered
    assert buf.push(Ev(3), 0) == []  # already held
    assert buf.duplicates == 2
    assert seqs(buf.push(Ev(2), 0)) == [2, 3]


def test_unsequenced_events_are_delivered_at_once_even_while_holding() -> None:
    buf: ReorderBuffer[Ev] = ReorderBuffer(0.5, last_seq=0)
    buf.push(Ev(2), 0)
    assert seqs(buf.push(Ev(None, "system.error"), 0)) == [None]
    assert buf.held == 1


def test_live_join_starts_from_the_first_event_seen() -> None:
    buf: ReorderBuffer[Ev] = ReorderBuffer(0.5)
    assert buf.last_seq is None
    assert seqs(buf.push(Ev(41), 0)) == [41]
    assert seqs(buf.push(Ev(43), 0)) == []
    assert seqs(buf.push(Ev(42), 0)) == [42, 43]


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=60),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    dup_rate=st.floats(min_value=0, max_value=0.5),
)
def test_any_shuffle_with_duplicates_delivers_each_event_once_in_order(
    n: int, seed: int, dup_rate: float
) -> None:
    rng = random.Random(seed)
    arrivals = [Ev(s) for s in range(1, n + 1)]
    arrivals += [Ev(s) for s in range(1, n + 1) if rng.random() < dup_rate]
    rng.shuffle(arrivals)
    buf: ReorderBuffer[Ev] = ReorderBuffer(0.5, last_seq=0)
    out = [e for i, ev in enumerate(arrivals) for e in buf.push(ev, now=i * 0.01)]
    assert seqs(out) == list(range(1, n + 1))
    assert buf.held == 0 and buf.duplicates == len(arrivals) - n


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(min_value=2, max_value=40),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_dropped_events_become_gaps_and_a_replay_fills_them(n: int, seed: int) -> None:
    """Shuffle, drop some, wait out the bound, 'reconnect' (replay after last_seq)."""
    rng = random.Random(seed)
    dropped = {s for s in range(1, n + 1) if rng.random() < 0.3}
    arrivals = [Ev(s) for s in range(1, n + 1) if s not in dropped]
    rng.shuffle(arrivals)
    buf: ReorderBuffer[Ev] = ReorderBuffer(0.5, last_seq=0)
    out: list[Ev] = []
    now = 0.0
    for ev in arrivals:
        now += 0.01
        out += buf.push(ev, now)
    while buf.held:
        deadline = buf.deadline()
        assert deadline is not None
        now = deadline
        gap = buf.gap(now)
        assert gap is not None and all(s in dropped for s in range(gap.first, gap.last + 1))
        assert buf.last_seq is not None
        for s in range(buf.last_seq + 1, n + 1):  # the server replays everything after
            out += buf.push(Ev(s), now)
    assert seqs(out) == [s for s in range(1, n + 1) if s <= (buf.last_seq or 0)]
    assert buf.skipped == []
