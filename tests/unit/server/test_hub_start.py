"""The hub starts a conversation explicitly (`hub.start`), never as a side effect of a
subscription; a live conversation's phases only move along server/live.py's table."""

from __future__ import annotations

from typing import Any

import pytest

from openreplica import protocol as p
from openreplica.runtime import settle
from openreplica.server.hub import ConversationHub, JoinRefused
from openreplica.server.live import Phase, moved
from openreplica.transports import connect_memory_peer

from .conftest import Api


def _hub(api: Api) -> ConversationHub:
    hub: ConversationHub = api.app.state.hub
    return hub


async def _conversation(api: Api, **body: Any) -> str:
    conv = await api.create("/v2/conversations", body)
    cid: str = conv["conversation_id"]
    return cid


async def test_subscribing_does_not_start_the_conversation_start_does(api: Api) -> None:
    cid = await _conversation(api, custom_greeting="Hello.")
    async with _hub(api).participant(cid, None) as participant:
        _, peer = await connect_memory_peer(participant.runtime, participant.clock)
        await api.clock.advance(1.0)
        assert peer.events() == []  # subscribed, but nobody started it
        runtime = await _hub(api).start(cid)
        assert runtime is participant.runtime
        await api.clock.advance(1.0)
        assert [e.seq for e in peer.events()][:1] == [1]
        assert isinstance(peer.events()[0], p.ReplicaJoined)
        again = await _hub(api).start(cid)  # idempotent: no second join
        assert again is runtime
        await api.clock.advance(1.0)
    joined = [e for e in peer.events() if isinstance(e, p.ReplicaJoined)]
    assert len(joined) == 1


async def test_start_builds_the_conversation_from_its_stored_record(api: Api) -> None:
    # What a node taking a conversation over does: no participant, only the record.
    cid = await _conversation(api, custom_greeting="Hello.")
    runtime = await _hub(api).start(cid)
    await settle()
    assert runtime.sequencer.last_seq >= 1 and runtime.replay(0)[0].event_type == (
        "system.replica_joined"
    )


async def test_start_refuses_an_unknown_or_ended_conversation(api: Api) -> None:
    with pytest.raises(JoinRefused) as unknown:
        await _hub(api).start("c-nope")
    assert unknown.value.close_code == 4404
    cid = await _conversation(api)
    await api.client.post(f"/v2/conversations/{cid}/end")
    with pytest.raises(JoinRefused) as ended:
        await _hub(api).start(cid)
    assert ended.value.close_code == 4410


async def test_a_join_after_the_end_began_is_no_error_for_a_participant(api: Api) -> None:
    cid = await _conversation(api)
    async with _hub(api).participant(cid, None) as participant:
        channel, peer = await connect_memory_peer(participant.runtime, participant.clock)
        await _hub(api).end(cid, "end_conversation_endpoint_hit")
        await participant.join()  # the channel hears the shutdown instead
        await settle()
        assert channel.finished.is_set()
    assert isinstance(peer.events()[-1], p.Shutdown)


def test_phases_only_move_along_the_table() -> None:
    assert moved(Phase.OPEN, Phase.JOINING) is Phase.JOINING
    assert moved(Phase.JOINING, Phase.JOINED) is Phase.JOINED
    for phase in (Phase.OPEN, Phase.JOINING, Phase.JOINED):
        assert moved(phase, Phase.ENDING) is Phase.ENDING
    with pytest.raises(RuntimeError, match="no move from joined to open"):
        moved(Phase.JOINED, Phase.OPEN)
    with pytest.raises(RuntimeError, match="no move from open to joined"):
        moved(Phase.OPEN, Phase.JOINED)  # only `start` joins, through JOINING
    with pytest.raises(RuntimeError, match="no move from ending to joining"):
        moved(Phase.ENDING, Phase.JOINING)


def test_only_a_joined_conversation_moves_and_a_moving_one_can_only_end() -> None:
    assert moved(Phase.JOINED, Phase.MOVING) is Phase.MOVING
    assert moved(Phase.MOVING, Phase.ENDING) is Phase.ENDING
    for phase in (Phase.OPEN, Phase.JOINING, Phase.ENDING):
        with pytest.raises(RuntimeError, match=f"no move from {phase.value} to moving"):
            moved(phase, Phase.MOVING)
    for phase in (Phase.OPEN, Phase.JOINING, Phase.JOINED):
        with pytest.raises(RuntimeError, match=f"no move from moving to {phase.value}"):
            moved(Phase.MOVING, phase)


async def test_a_halted_conversation_goes_silent_refuses_joins_and_tells_participants_to_move(
    api: Api,
) -> None:
    cid = await _conversation(api, custom_greeting="Hello there, how are you today?")
    hub = _hub(api)
    assert await hub.halt(cid) is None  # not live yet: nothing to halt
    async with hub.participant(cid, None) as participant:
        _, peer = await connect_memory_peer(participant.runtime, participant.clock)
        await participant.join()
        await api.clock.advance(0.2)  # into the greeting
        heard = len(peer.events())
        assert heard >= 2 and not isinstance(peer.events()[-1], p.Shutdown)
        record = await hub.halt(cid)
        assert record is not None and record.conversation_id == cid
        assert participant.runtime.halted and not participant.runtime.ended
        assert not participant.moved.is_set()  # not before it runs elsewhere
        await api.clock.advance(10.0)  # the rest of the greeting is never said here
        participant.runtime.submit(p.Echo(conversation_id=cid, properties=p.EchoProps(text="hi")))
        await settle()
        assert len(peer.events()) == heard
        with pytest.raises(JoinRefused) as refused:
            async with hub.participant(cid, None):
                pass
        assert refused.value.close_code == 1012
        hub.moved_away(cid)
        assert participant.moved.is_set()
    assert cid not in hub.live_ids()
    stored = await api.client.get(f"/v2/conversations/{cid}")
    assert stored.json()["status"] == "active"  # it was not ended here
