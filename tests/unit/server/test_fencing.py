"""A node's lease on its conversations (server/fencing.py): it ends a margin before the
registry can forget the node, counted from when the heartbeat was sent; and the hub of a
node that fenced itself off."""

from __future__ import annotations

import pytest

from openreplica.runtime import settle
from openreplica.server.fencing import Lease
from openreplica.server.hub import ConversationHub, JoinRefused
from openreplica.transports import connect_memory_peer

from .conftest import Api


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


async def test_a_fenced_hub_stops_its_conversations_without_ending_them(api: Api) -> None:
    hub: ConversationHub = api.app.state.hub
    cid = (await api.create("/v2/conversations", {}))["conversation_id"]
    async with hub.participant(cid, None) as participant:
        _, peer = await connect_memory_peer(participant.runtime, participant.clock)
        await participant.join()
        await api.clock.advance(0.5)  # into the greeting
        broadcast = [e.seq for e in peer.events()]
        assert await hub.fence(flush_within=1.0) == [cid]
        assert participant.moved.is_set()  # its transports close it with 1012
        assert participant.runtime.halted
        await api.clock.advance(5.0)
        assert [e.seq for e in peer.events()] == broadcast  # not a word more
    assert "system.shutdown" not in [e.event_type for e in peer.events()]
    with pytest.raises(JoinRefused) as refused:
        async with hub.participant(cid, None):
            pass
    assert refused.value.close_code == 1012
    await api.clock.advance(1000)  # no timer of the fenced conversation ends it
    await settle()
    body = (await api.client.get(f"/v2/conversations/{cid}?verbose=true")).json()
    assert body["status"] == "active"
    assert [e["seq"] for e in body["events"]] == broadcast  # stored what it broadcast
    hub.unfence()
    async with hub.participant(cid, None) as again:  # serving again
        assert not again.runtime.halted and not again.runtime.ended
