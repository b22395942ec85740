"""`POST …/webrtc/offer`: answers, refusals with SPEC §5 bodies, the call page."""

from __future__ import annotations

from eventually import eventually

from .conftest import Join, Server


async def test_offer_is_answered_and_the_replica_joins(server: Server, join: Join) -> None:
    conversation = await server.create()
    client = await join(conversation["conversation_id"])
    assert client.answer["type"] == "answer"
    assert client.answer["sdp"].startswith("v=0")
    joined = await client.wait_event("system.replica_joined")
    assert joined["seq"] == 1
    assert client.answer["replica_id"] == joined["properties"]["replica_id"]


async def test_refusals_use_the_rest_error_bodies(server: Server, join: Join) -> None:
    missing = await join("nope", expect_status=404)
    assert "error" in missing.answer
    private = await server.create(require_auth=True)
    refused = await join(private["conversation_id"], token="wrong", expect_status=401)
    assert refused.answer == {"message": "Invalid access token"}
    anonymous = await join(private["conversation_id"], expect_status=401)
    assert anonymous.answer == {"message": "Invalid access token"}
    allowed = await join(private["conversation_id"], token=private["meeting_token"])
    await allowed.wait_event("system.replica_joined")
    ended = await server.create()
    await server.http.post(f"/v2/conversations/{ended['conversation_id']}/end")
    gone = await join(ended["conversation_id"], expect_status=410)
    assert "error" in gone.answer


async def test_bad_offers_are_400(server: Server) -> None:
    conversation = await server.create()
    url = f"/v2/conversations/{conversation['conversation_id']}/webrtc/offer"
    for body in ({}, {"sdp": 5}, {"sdp": "v=0", "type": "answer"}, {"sdp": "garbage"}):
        response = await server.http.post(url, json=body)
        assert response.status_code == 400, body
        assert "error" in response.json()
    response = await server.http.post(url, content=b"not json")
    assert response.status_code == 400


async def test_closing_the_connection_leaves_the_conversation(server: Server, join: Join) -> None:
    conversation = await server.create()  # participant_left_timeout 0: ends when all leave
    cid = conversation["conversation_id"]
    client = await join(cid)
    await client.wait_event("system.replica_joined")
    assert await server.status(cid) == "active"
    await client.close()

    async def ended() -> bool:
        return await server.status(cid) == "ended"

    await eventually(ended, message="the conversation ended when its participant left")


async def test_call_page_and_static_files_are_served(server: Server) -> None:
    page = await server.http.get("/c/some-conversation")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "/static/call.js" in page.text
    for name, kind in [
        ("openreplica.js", "javascript"),
        ("call.js", "javascript"),
        ("call.css", "css"),
        ("favicon.svg", "svg"),
    ]:
        response = await server.http.get(f"/static/{name}")
        assert response.status_code == 200, name
        assert kind in response.headers["content-type"], name
