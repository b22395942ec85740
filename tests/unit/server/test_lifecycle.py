"""Conversation lifecycle on a virtual clock: joining, refusals, every shutdown reason."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from eventually import eventually

from openreplica import protocol as p
from openreplica.runtime import settle
from openreplica.server.hub import ConversationHub, JoinRefused
from openreplica.transports import MemoryPeer, connect_memory_peer

from .conftest import Api, MakeApi


async def _conversation(api: Api, **body: Any) -> str:
    conv = await api.create("/v2/conversations", body)
    cid: str = conv["conversation_id"]
    return cid


def _hub(api: Api) -> ConversationHub:
    hub: ConversationHub = api.app.state.hub
    return hub


def _types(peer: MemoryPeer) -> list[str]:
    return [e.event_type for e in peer.events()]


async def _status(api: Api, cid: str) -> tuple[str, str | None]:
    await settle()
    await _hub(api).settled()
    body = (await api.client.get(f"/v2/conversations/{cid}")).json()
    return body["status"], body.get("shutdown_reason")


async def test_the_first_participant_sees_the_replica_join_then_the_greeting(api: Api) -> None:
    cid = await _conversation(api, custom_greeting="Welcome aboard.")
    async with _hub(api).participant(cid, None) as first:
        _, peer = await connect_memory_peer(first.runtime, first.clock)
        await first.join()  # as a transport does once its channel is open
        await api.clock.advance(0.01)
        async with _hub(api).participant(cid, None) as second:
            _, late = await connect_memory_peer(second.runtime, second.clock)
            await second.join()  # as a transport does once its channel is open
            await api.clock.advance(2.0)
    events = peer.events()
    assert events[0].event_type == "system.replica_joined" and events[0].seq == 1
    assert "conversation.replica.started_speaking" in _types(peer)
    utterance = next(e for e in events if isinstance(e, p.Utterance))
    assert utterance.properties.speech == "Welcome aboard."
    assert "system.replica_joined" not in _types(late)  # live only, from joining on
    assert late.events() and late.events()[-1].seq == events[-1].seq


async def test_end_endpoint_shuts_down_with_its_reason_and_finishes_the_channel(api: Api) -> None:
    cid = await _conversation(api)
    async with _hub(api).participant(cid, None) as participant:
        channel, peer = await connect_memory_peer(participant.runtime, participant.clock)
        await participant.join()  # as a transport does once its channel is open
        await settle()
        response = await api.client.post(f"/v2/conversations/{cid}/end")
        assert response.json()["status"] == "ended"
        await settle()
        assert channel.finished.is_set()
    last = peer.events()[-1]
    assert isinstance(last, p.Shutdown)
    assert last.properties.shutdown_reason == "end_conversation_endpoint_hit"
    assert await _status(api, cid) == ("ended", "end_conversation_endpoint_hit")


async def test_max_call_duration_counts_from_the_replica_joining(api: Api) -> None:
    cid = await _conversation(api, properties={"max_call_duration": 30})
    await api.clock.advance(100)  # nobody joined yet: not counted
    async with _hub(api).participant(cid, None) as participant:
        _, peer = await connect_memory_peer(participant.runtime, participant.clock)
        await participant.join()  # as a transport does once its channel is open
        await api.clock.advance(29)
        assert await _status(api, cid) == ("active", None)
        await api.clock.advance(2)
        await settle()
    assert _types(peer)[-1] == "system.shutdown"
    assert await _status(api, cid) == ("ended", "max_call_duration reached")


async def test_participant_left_timeout_and_a_rejoin_in_time(api: Api) -> None:
    cid = await _conversation(api, properties={"participant_left_timeout": 5})
    hub = _hub(api)
    async with hub.participant(cid, None) as participant:
        await connect_memory_peer(participant.runtime, participant.clock)
        await participant.join()  # as a transport does once its channel is open
    await api.clock.advance(4)
    async with hub.participant(cid, None):  # back in time: the timer is cancelled
        await api.clock.advance(10)
        assert await _status(api, cid) == ("active", None)
    await api.clock.advance(4.9)
    assert await _status(api, cid) == ("active", None)
    await api.clock.advance(0.2)
    await settle()
    assert await _status(api, cid) == ("ended", "participant_left_timeout reached")


async def test_participant_left_timeout_zero_ends_at_once(api: Api) -> None:
    cid = await _conversation(api, properties={"participant_left_timeout": 0})
    async with _hub(api).participant(cid, None) as participant:
        await connect_memory_peer(participant.runtime, participant.clock)
        await participant.join()  # as a transport does once its channel is open
    await settle()
    await api.clock.advance(0)
    assert await _status(api, cid) == ("ended", "participant_left_timeout reached")


async def test_the_default_left_timeout_is_sixty_seconds(api: Api) -> None:
    cid = await _conversation(api)
    async with _hub(api).participant(cid, None) as participant:
        await connect_memory_peer(participant.runtime, participant.clock)
        await participant.join()  # as a transport does once its channel is open
    await api.clock.advance(59)
    assert (await _status(api, cid))[0] == "active"
    await api.clock.advance(2)
    await settle()
    assert await _status(api, cid) == ("ended", "participant_left_timeout reached")


async def test_participant_absent_timeout_ends_with_a_stored_shutdown(api: Api) -> None:
    cid = await _conversation(api, properties={"participant_absent_timeout": 10})
    await api.clock.advance(9)
    assert (await _status(api, cid))[0] == "active"
    await api.clock.advance(2)
    await _status(api, cid)
    body = (await api.client.get(f"/v2/conversations/{cid}?verbose=true")).json()
    assert body["shutdown_reason"] == "participant_absent_timeout reached"
    assert [(e["seq"], e["event_type"]) for e in body["events"]] == [(1, "system.shutdown")]


async def test_stopping_the_server_ends_live_conversations(make_api: MakeApi) -> None:
    api = await make_api()
    cid = await _conversation(api)
    hub = _hub(api)
    async with hub.participant(cid, None) as participant:
        _, peer = await connect_memory_peer(participant.runtime, participant.clock)
        await participant.join()  # as a transport does once its channel is open
        await settle()
        await hub.aclose()
    assert _types(peer)[-1] == "system.shutdown"
    assert await _status(api, cid) == ("ended", "server_shutdown")


async def test_join_refusals(make_api: MakeApi) -> None:
    api = await make_api(api_key="server-key")
    hub = _hub(api)
    headers = {"x-api-key": "server-key"}
    open_conv = (await api.client.post("/v2/conversations", json={}, headers=headers)).json()
    locked = (
        await api.client.post("/v2/conversations", json={"require_auth": True}, headers=headers)
    ).json()

    async def refused(cid: str, credential: str | None) -> tuple[int, int]:
        with pytest.raises(JoinRefused) as info:
            async with hub.participant(cid, credential):
                pass
        return info.value.close_code, info.value.http_status

    # Without the server key, a missing conversation looks like a locked one: 4401.
    assert await refused("nope", None) == (4401, 401)
    assert await refused("nope", locked["meeting_token"]) == (4401, 401)
    assert await refused("nope", "server-key") == (4404, 404)
    assert await refused(locked["conversation_id"], None) == (4401, 401)
    assert await refused(locked["conversation_id"], "wrong") == (4401, 401)
    assert await refused(open_conv["conversation_id"], "wrong") == (4401, 401)
    for credential in (locked["meeting_token"], "server-key"):
        async with hub.participant(locked["conversation_id"], credential) as participant:
            assert participant.conversation_id == locked["conversation_id"]
    async with hub.participant(open_conv["conversation_id"], None):
        pass
    await api.client.post(f"/v2/conversations/{open_conv['conversation_id']}/end", headers=headers)
    assert await refused(open_conv["conversation_id"], None) == (4410, 410)


async def test_history_reads_the_stored_events(api: Api) -> None:
    cid = await _conversation(api, custom_greeting="One two three.")
    async with _hub(api).participant(cid, None) as participant:
        _, peer = await connect_memory_peer(participant.runtime, participant.clock)
        await participant.join()  # as a transport does once its channel is open
        await api.clock.advance(2)
        stored = await participant.history(2)
        assert [seq for seq, _ in stored] == [e.seq for e in peer.events()][2:]
        assert [data for _, data in stored] == peer.received[2:]


async def test_stop_ends_conversations_then_waits_for_participants_within_its_grace(
    make_api: MakeApi,
) -> None:
    # no presence heartbeat: its timer would be the clock's next deadline, not the grace's
    api = await make_api(presence_interval=0.0)
    cid = await _conversation(api)
    hub = _hub(api)
    async with hub.participant(cid, None) as participant:
        channel, peer = await connect_memory_peer(participant.runtime, participant.clock)
        await participant.join()  # as a transport does once its channel is open
        await settle()
        stopping = asyncio.create_task(hub.stop(grace=5.0))
        await channel.finished.wait()  # the shutdown reached this participant
        await hub.settled()
        await api.clock.advance(1.0)
        assert not stopping.done()  # a participant is still connected
    await eventually(stopping.done, timeout=5, message="stop() returning once nobody is connected")
    last = peer.events()[-1]
    assert isinstance(last, p.Shutdown) and last.properties.shutdown_reason == "server_shutdown"

    async with hub.participant(await _conversation(api), None):
        stopping = asyncio.create_task(hub.stop(grace=5.0))
        grace_ends = api.clock.now() + 5.0
        await eventually(
            lambda: api.clock.next_deadline == grace_ends, timeout=5, message="the grace timer"
        )
        await api.clock.advance(4.9)
        assert not stopping.done()
        await api.clock.advance(0.2)  # the grace is over although someone stayed
        await eventually(stopping.done, timeout=5, message="stop() returning after its grace")
