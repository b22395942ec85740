"""Hostile input at the HTTP and WebSocket edge, against a real server process (issue 11
items 5, 6, 9 and 10; SPEC §2.3, §2.6): every bad request gets a specific answer, costs
bounded memory, and leaves the connection and the conversation working."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets

from .conftest import ServerProcess
from .test_ws import Msg, echo, is_type, recv_until

KEY = "edge-key"
AUTH = {"x-api-key": KEY}
JSON_AUTH = {**AUTH, "content-type": "application/json"}
PERSONA_LIMIT = 4096
CONVERSATION_RATE = 20


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with an API key, default body limits, a small persona cap, and a
    per-connection rate limit far above the per-conversation one."""
    proc = ServerProcess(
        tmp_path_factory.mktemp("edge") / "data",
        env={
            "OPENREPLICA_API_KEY": KEY,
            "OPENREPLICA_MAX_PERSONA_BYTES": str(PERSONA_LIMIT),
            "OPENREPLICA_RATE_LIMIT": "1000",
            "OPENREPLICA_RATE_BURST": "1000",
            "OPENREPLICA_CONVERSATION_RATE_LIMIT": str(CONVERSATION_RATE),
            "OPENREPLICA_CONVERSATION_RATE_BURST": str(CONVERSATION_RATE),
        },
    )
    proc.start()
    yield proc
    proc.stop()


def rss_bytes(server: ServerProcess) -> int:
    assert server.process is not None
    with open(f"/proc/{server.process.pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def conversation(server: ServerProcess, **body: Any) -> str:
    return server.post("/v2/conversations", body, headers=AUTH)["conversation_id"]  # type: ignore[no-any-return]


def ws_url(server: ServerProcess, cid: str, **query: object) -> str:
    return server.ws_url(cid, t=KEY, **query)


def raw_request(server: ServerProcess, head: str, body: bytes = b"", wait: float = 10) -> bytes:
    """Send a request head (and the start of a body) on a raw socket; return what the
    server answers without the client sending anything more."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=wait) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n" + body)
        answer = b""
        while b"\r\n\r\n" not in answer or not _complete(answer):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        return answer


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def status_and_json(answer: bytes) -> tuple[int, Any]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)


# ----------------------------------------------------------------------- item 5: bodies


JSON_ROUTES = [
    ("POST", "/v2/personas"),
    ("PATCH", "/v2/personas/p-any"),
    ("POST", "/v2/conversations"),
]


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
def test_credentials_are_checked_before_a_body_is_parsed(
    edge: ServerProcess, method: str, path: str
) -> None:
    json_type = {"content-type": "application/json"}  # else FastAPI parses after auth
    for body in (b"{not json", b"[" * 3000 + b"]" * 3000, b"x" * 200_000):
        response = httpx.request(method, edge.url + path, content=body, headers=json_type)
        assert response.status_code == 401, (path, body[:20], response.text)
        assert response.json() == {"message": "Invalid access token"}


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
def test_a_declared_oversized_body_is_refused_before_it_is_sent(
    edge: ServerProcess, method: str, path: str
) -> None:
    head = (
        f"{method} {path} HTTP/1.1\r\nhost: x\r\nx-api-key: {KEY}\r\n"
        f"content-type: application/json\r\ncontent-length: {64 << 20}\r\n"
    )
    status, body = status_and_json(raw_request(edge, head, b'{"persona_name": "'))
    assert status == 413
    assert "65536 bytes" in body["error"]


def test_a_streamed_oversized_body_is_refused_with_413(edge: ServerProcess) -> None:
    chunk = b" " * 16384  # whitespace: the body stays valid JSON until the limit

    def body() -> Iterator[bytes]:
        yield b'{"conversation_name": "big"'
        for _ in range(8):  # 128 KiB, twice the default limit
            yield chunk
        yield b"}"

    response = httpx.post(edge.url + "/v2/conversations", content=body(), headers=JSON_AUTH)
    assert response.status_code == 413, response.text
    assert "65536 bytes" in response.json()["error"]
    small = httpx.post(
        edge.url + "/v2/conversations", json={"conversation_name": "s"}, headers=AUTH
    )
    assert small.status_code == 200


def test_huge_offers_cost_no_memory_and_deep_ones_are_a_400(edge: ServerProcess) -> None:
    cid = conversation(edge)  # open: an offer needs no credential
    path = f"/v2/conversations/{cid}/webrtc/offer"
    before = rss_bytes(edge)
    for _ in range(4):  # the finding: four 64 MiB offers took 169 -> 807 MB
        head = f"POST {path} HTTP/1.1\r\nhost: x\r\ncontent-length: {64 << 20}\r\n"
        status, body = status_and_json(raw_request(edge, head, b'{"sdp": "' + b"v" * 300_000))
        assert status == 413 and "262144 bytes" in body["error"]
    assert rss_bytes(edge) - before < 50 << 20
    nested = b'{"sdp": ' + b"[" * 3000 + b"]" * 3000 + b"}"
    response = httpx.post(
        edge.url + path, content=nested, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert "nested" in response.json()["error"]
    for route in ("/v2/personas", "/v2/conversations"):
        deep = b'{"properties": ' + b"[" * 3000 + b"]" * 3000 + b"}"
        response = httpx.post(edge.url + route, content=deep, headers=JSON_AUTH)
        assert response.status_code == 400, (route, response.text)


def test_offer_credentials_come_before_the_body(edge: ServerProcess) -> None:
    locked = edge.post("/v2/conversations", {"require_auth": True}, headers=AUTH)
    path = f"/v2/conversations/{locked['conversation_id']}/webrtc/offer"
    response = httpx.post(edge.url + path, content=b"{broken")
    assert response.status_code == 401
    head = f"POST {path} HTTP/1.1\r\nhost: x\r\ncontent-length: {64 << 20}\r\n"
    status, body = status_and_json(raw_request(edge, head))
    assert (status, body) == (401, {"message": "Invalid access token"})
    response = httpx.post(f"{edge.url}{path}?t={locked['meeting_token']}", content=b"{broken")
    assert response.status_code == 400


# ----------------------------------------------------------------------- item 10: personas


def test_persona_size_is_capped_at_create_and_after_copy_amplification(
    edge: ServerProcess,
) -> None:
    response = httpx.post(
        edge.url + "/v2/personas", json={"system_prompt": "x" * 10_000}, headers=AUTH
    )
    assert response.status_code == 400
    assert f"{PERSONA_LIMIT} bytes" in response.json()["error"]
    persona = edge.post("/v2/personas", {"system_prompt": "y" * 60, "context": "c"}, headers=AUTH)
    pid = persona["persona_id"]
    before = rss_bytes(edge)
    ops = [{"op": "add", "path": "/layers", "value": {"a": "z" * 60}}]
    ops += [{"op": "copy", "from": "/layers", "path": f"/layers/l{i}"} for i in range(19)]
    response = httpx.patch(f"{edge.url}/v2/personas/{pid}", json=ops, headers=AUTH)
    assert response.status_code == 400
    assert "max_persona_bytes" in response.json()["error"]
    assert rss_bytes(edge) - before < 20 << 20
    unchanged = edge.get(f"/v2/personas/{pid}", headers=AUTH)
    assert "layers" not in unchanged and unchanged["system_prompt"] == "y" * 60
    fine = [{"op": "copy", "from": "/system_prompt", "path": "/context"}]
    response = httpx.patch(f"{edge.url}/v2/personas/{pid}", json=fine, headers=AUTH)
    assert response.status_code == 200 and response.json()["context"] == "y" * 60


# ----------------------------------------------------------------------- item 10: close codes


async def close_code(url: str) -> int | None:
    async with websockets.connect(url) as ws:
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        return ws.close_code


async def test_without_the_server_key_a_missing_conversation_looks_locked(
    edge: ServerProcess,
) -> None:
    locked = edge.post("/v2/conversations", {"require_auth": True}, headers=AUTH)
    cid, token = locked["conversation_id"], locked["meeting_token"]
    assert await close_code(edge.ws_url(cid)) == 4401
    assert await close_code(edge.ws_url("c-nope")) == 4401
    assert await close_code(edge.ws_url("c-nope", t=token)) == 4401
    assert await close_code(edge.ws_url("c-nope", t=KEY)) == 4404
    offer = {"sdp": "v=0", "type": "offer"}
    missing = httpx.post(f"{edge.url}/v2/conversations/c-nope/webrtc/offer", json=offer)
    assert missing.status_code == 401


# ----------------------------------------------------------------------- items 6, 10: frames


async def test_deep_nesting_gets_invalid_json_and_earlier_replies_are_kept(
    edge: ServerProcess,
) -> None:
    cid = conversation(edge)
    deep = (
        '{"event_type": "conversation.echo", "properties": {"text": "x", "extra": '
        + "[" * 1000
        + "]" * 1000
        + "}}"
    )
    async with websockets.connect(ws_url(edge, cid)) as ws:
        await recv_until(ws, is_type("system.replica_joined"))
        await ws.send('{"event_type": "conversation.fly"}')  # a reply is queued ...
        await ws.send(deep)  # ... and this one must not lose it
        errors: list[Msg] = []
        while len(errors) < 2:
            errors += [m for m in await recv_until(ws, is_type("system.error"))][-1:]
        codes = [e["properties"]["code"] for e in errors]
        assert codes == ["unknown_event_type", "invalid_json"]
        assert "nested" in errors[1]["properties"]["message"]
        await ws.send(echo("still here"))
        reply = await recv_until(ws, is_type("conversation.utterance"))
        assert reply[-1]["properties"]["speech"] == "still here"
    assert "Traceback" not in edge.output()


async def test_invalid_utf8_text_gets_invalid_json_and_logs_no_traceback(
    edge: ServerProcess,
) -> None:
    cid = conversation(edge)
    async with websockets.connect(ws_url(edge, cid)) as ws:
        await recv_until(ws, is_type("system.replica_joined"))
        for _ in range(10):  # within the conversation's rate limit
            await ws.send(b'{"event_type": "conversation.echo", "text": "\xff\xfe"}', text=True)
        codes = []
        for _ in range(10):
            (error,) = await recv_until(ws, is_type("system.error"))
            codes.append(error["properties"]["code"])
        assert codes == ["invalid_json"] * 10
        await ws.send(echo("after bad bytes"))
        reply = await recv_until(ws, is_type("conversation.utterance"))
        assert reply[-1]["properties"]["speech"] == "after bad bytes"
    log = edge.output()
    assert "Traceback" not in log and "ERROR" not in log


# ----------------------------------------------------------------------- item 9: last_seq


def resume(last_seq: int) -> str:
    return json.dumps(
        {
            "message_type": "system",
            "event_type": "system.resume",
            "properties": {"last_seq": last_seq},
        }
    )


@pytest.mark.parametrize("last_seq", [2**63, 2**64 + 5, 10**30, 99])
async def test_a_last_seq_beyond_the_newest_event_is_refused_and_live_events_go_on(
    edge: ServerProcess, last_seq: int
) -> None:
    cid = conversation(edge)
    async with websockets.connect(ws_url(edge, cid)) as ws:
        await recv_until(ws, is_type("system.replica_joined"))
        await ws.send(resume(last_seq))
        (error,) = await recv_until(ws, is_type("system.error"))
        assert error["properties"]["code"] == "invalid_properties"
        assert error["properties"]["event_type"] == "system.resume"
        await ws.send(echo("live after resume"))
        reply = await recv_until(ws, is_type("conversation.utterance"))
        assert reply[-1]["properties"]["speech"] == "live after resume"
    async with websockets.connect(ws_url(edge, cid, last_seq=last_seq)) as ws:
        (error,) = await recv_until(ws, is_type("system.error"))
        assert error["properties"]["code"] == "invalid_properties"
        await ws.send(echo("live after query"))
        reply = await recv_until(ws, is_type("conversation.utterance"))
        assert reply[-1]["properties"]["speech"] == "live after query"
        assert [m for m in reply if m["event_type"] == "system.error"] == []
    assert "Traceback" not in edge.output()
