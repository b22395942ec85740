"""`test_mode: true` on create (SPEC §5 [added]): the replica never joins, the conversation
is `ended` from the start, its WebSocket closes with 4410 and it sends no webhook."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
from eventually import eventually
from stub_http import Handler, Reply, Request, StubServer

from .conftest import ServerProcess
from .test_ws import close_code

StartStub = Callable[[Handler], Awaitable[StubServer]]


async def test_a_test_mode_conversation_is_ended_silent_and_never_joined(
    server: ServerProcess, stub_server: StartStub
) -> None:
    seen: list[Request] = []

    async def handle(request: Request) -> Reply:
        seen.append(request)
        return Reply(status=204)

    receiver = await stub_server(handle)
    created = server.post(
        "/v2/conversations",
        {"test_mode": True, "callback_url": receiver.url + "/test", "custom_greeting": "Hi."},
    )
    cid = created["conversation_id"]
    assert created["status"] == "ended" and created["test_mode"] is True
    assert server.get(f"/v2/conversations/{cid}")["status"] == "ended"
    assert await close_code(server.ws_url(cid)) == 4410
    async with httpx.AsyncClient() as client:
        offer = await client.post(
            f"{server.url}/v2/conversations/{cid}/webrtc/offer", json={"sdp": "x", "type": "offer"}
        )
        assert offer.status_code in (400, 410), offer.text
        app_message = await client.post(
            f"{server.url}/v2/conversations/{cid}/send-app-message",
            json={"event_type": "conversation.echo", "properties": {"text": "hi"}},
        )
        assert app_message.status_code == 400
        assert (await client.post(f"{server.url}/v2/conversations/{cid}/end")).status_code == 200
    verbose = server.get(f"/v2/conversations/{cid}?verbose=true")
    assert verbose["events"] == [] and verbose["transcript"] == []

    # A live conversation to the same receiver: once its three webhooks are in, the
    # test-mode one (created first) has had every chance to send its own.
    live = server.conversation(callback_url=receiver.url + "/live")
    assert await close_code(server.ws_url(live, t="wrong")) == 4401
    server.post(f"/v2/conversations/{live}/end")
    # shutdown + transcription_ready (nobody joined)
    await eventually(lambda: len(seen) >= 2, timeout=10, message="the live conversation's webhooks")
    assert {r.path for r in seen} == {"/live"}
