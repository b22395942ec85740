"""A node's lease on its conversations (server/fencing.py): it ends a margin before the
registry can forget the node, counted from when the heartbeat was sent."""

from __future__ import annotations

from openreplica.server.fencing import Lease


def test_the_lease_runs_from_when_the_heartbeat_was_sent_less_a_margin() -> None:
    lease = Lease(ttl=3.0, heartbeat=0.5)
    assert not lease.held(0.0)  # nothing held before the first heartbeat
    lease.renewed(sent_at=10.0)  # however late its answer came
    assert lease.held(12.49) and not lease.held(12.5)  # 10 + 3 - 0.5


def test_a_late_answer_to_an_old_heartbeat_never_shortens_the_lease() -> None:
    lease = Lease(ttl=3.0, heartbeat=0.5)
    lease.renewed(sent_at=20.0)
    lease.renewed(sent_at=11.0)  # a heartbeat stuck behind a frozen connection
    assert lease.held(22.0)


def test_the_margin_is_at_most_half_the_ttl() -> None:
    lease = Lease(ttl=1.0, heartbeat=0.8)
    lease.renewed(sent_at=0.0)
    assert lease.margin == 0.5 and lease.held(0.49) and not lease.held(0.5)
