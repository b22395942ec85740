"""`POST …/webrtc/offer`: answers, refusals with SPEC §5 bodies, the call page."""

from __future__ import annotations

from .conftest import Join, Server


async def test_offer_is_answered_and_the_replica_joins(server: Server, join: Join) -> None:
    conversation = await server.create()
    client = await join(conversation["conversation_id"])
    assert client.answer["type"] == "answer"
    assert client.answer["sdp"].startswith("v=0")
    joined = await client.wait_event("system.replica_joined")
    assert joined["seq"] == 1
    assert client.answer["replica_id"] == joined["properties"]["replica_id"]
