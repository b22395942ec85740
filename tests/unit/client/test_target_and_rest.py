"""Conversation URLs, and the REST helpers against an in-memory HTTP transport."""

from __future__ import annotations

import json

import httpx
import pytest

from openreplica.client import ApiError, ConversationTarget, ReplicaClient


@pytest.mark.parametrize(
    ("url", "base", "cid", "token"),
    [
        ("http://127.0.0.1:8000/c/abc123?t=tok", "http://127.0.0.1:8000", "abc123", "tok"),
        ("http://h:1/c/abc123/", "http://h:1", "abc123", None),
        ("ws://h:1/v2/conversations/abc/ws?t=x&last_seq=3", "http://h:1", "abc", "x"),
        (
            "wss://example.org/replica/v2/conversations/abc/ws",
            "https://example.org/replica",
            "abc",
            None,
        ),
        ("https://example.org/v2/conversations/abc", "https://example.org", "abc", None),
    ],
)
def test_urls_parse(url: str, base: str, cid: str, token: str | None) -> None:
    target = ConversationTarget.from_url(url)
    assert (target.base_url, target.conversation_id, target.token) == (base, cid, token)


@pytest.mark.parametrize("url", ["ftp://h/c/x", "http://h/elsewhere", "not a url"])
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        ConversationTarget.from_url(url)


def test_ws_url_carries_token_and_last_seq() -> None:
    target = ConversationTarget("https://example.org/r", "abc", token="t 1", api_key="k")
    assert target.ws_url() == "wss://example.org/r/v2/conversations/abc/ws?t=t+1"
    assert target.ws_url(0).endswith("/abc/ws?t=t+1&last_seq=0")
    assert (
        target.http_url("/webrtc/offer")
        == "https://example.org/r/v2/conversations/abc/webrtc/offer"
    )
    assert target.auth_headers() == {"x-api-key": "k"}
    assert ConversationTarget.from_url("http://h/c/x?t=a", token="b").token == "b"


def fake_api() -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        path, method = request.url.path, request.method
        if request.headers.get("x-api-key") != "key":
            return httpx.Response(401, json={"message": "Invalid access token"})
        if (method, path) == ("POST", "/v2/personas"):
            body = json.loads(request.content)
            if "persona_name" not in body:
                return httpx.Response(400, json={"error": "persona_name is required"})
            return httpx.Response(200, json={"persona_id": "p1", **body})
        if (method, path) == ("PATCH", "/v2/personas/p1"):
            return httpx.Response(
                200, json={"persona_id": "p1", "ops": json.loads(request.content)}
            )
        if (method, path) == ("GET", "/v2/conversations"):
            return httpx.Response(
                200, json={"data": [], "total_count": 0, "query": dict(request.url.params)}
            )
        if (method, path) == ("DELETE", "/v2/conversations/c1"):
            return httpx.Response(204)
        if path == "/v2/conversations/gone":
            return httpx.Response(404, json={"error": "conversation not found"})
        if path == "/v2/replicas":
            return httpx.Response(502, text="bad gateway")
        return httpx.Response(200, json={"path": path, "params": dict(request.url.params)})

    return httpx.MockTransport(handle), seen


async def test_rest_helpers_send_the_right_requests() -> None:
    transport, seen = fake_api()
    async with ReplicaClient("http://srv/", api_key="key", http_transport=transport) as client:
        persona = await client.create_persona(persona_name="N", pipeline_mode="echo")
        assert persona == {"persona_id": "p1", "persona_name": "N", "pipeline_mode": "echo"}
        ops = [{"op": "replace", "path": "/system_prompt", "value": "x"}]
        assert (await client.patch_persona("p1", ops))["ops"] == ops
        listed = await client.list_conversations(limit=5, page=0, status="active")
        assert listed["query"] == {"limit": "5", "page": "0", "status": "active"}
        verbose = await client.get_conversation("c9", verbose=True)
        assert verbose == {"path": "/v2/conversations/c9", "params": {"verbose": "true"}}
        assert await client.end_conversation("c9") == {
            "path": "/v2/conversations/c9/end",
            "params": {},
        }
        assert await client.delete_conversation("c1") is None  # type: ignore[func-returns-value]
    assert all(r.headers["x-api-key"] == "key" for r in seen)
    assert [r.method for r in seen] == ["POST", "PATCH", "GET", "GET", "POST", "DELETE"]


async def test_api_errors_carry_the_server_body() -> None:
    transport, _ = fake_api()
    async with ReplicaClient("http://srv", api_key="key", http_transport=transport) as client:
        with pytest.raises(ApiError) as missing:
            await client.get_conversation("gone")
        assert missing.value.status == 404
        assert missing.value.body == {"error": "conversation not found"}
        assert missing.value.detail == "conversation not found"
        assert "GET" in str(missing.value) and "404" in str(missing.value)
        with pytest.raises(ApiError) as bad:
            await client.create_persona(system_prompt="x")
        assert (bad.value.status, bad.value.detail) == (400, "persona_name is required")
        with pytest.raises(ApiError) as gateway:
            await client.list_replicas()
        assert (gateway.value.status, gateway.value.body) == (502, "bad gateway")
    async with ReplicaClient("http://srv", api_key="wrong", http_transport=transport) as client:
        with pytest.raises(ApiError) as denied:
            await client.list_personas()
        assert (denied.value.status, denied.value.detail) == (401, "Invalid access token")


async def test_unreachable_server_is_an_api_error() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with ReplicaClient("http://srv", http_transport=httpx.MockTransport(down)) as client:
        with pytest.raises(ApiError) as error:
            await client.list_personas()
        assert error.value.status == 0 and "cannot reach" in error.value.detail


def test_client_targets() -> None:
    client = ReplicaClient("http://srv:9", api_key="key")
    info = {"conversation_id": "c7", "meeting_token": "tok"}
    assert client.target(info) == ConversationTarget("http://srv:9", "c7", "tok", "key")
    assert client.target("c8").conversation_id == "c8"
    assert client.target("http://other:1/c/c9?t=z") == ConversationTarget(
        "http://other:1", "c9", "z", "key"
    )
