"""Restarting the server process loses nothing; webhooks reach a real receiver."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import websockets
from eventually import eventually
from stub_http import Handler, Reply, Request, StubServer

from .conftest import ServerProcess
from .test_ws import echo, is_type, recv_until

KEY = {"x-api-key": "k-test"}
StartStub = Callable[[Handler], Awaitable[StubServer]]


def _get(server: ServerProcess, path: str) -> dict[str, Any]:
    return server.get(path, headers=KEY)


async def test_a_restart_loses_no_persona_conversation_event_or_transcript(
    tmp_path: Path, database_url: str
) -> None:
    """On SQLite and on a real PostgreSQL (tests/conftest.py)."""
    server = ServerProcess(
        tmp_path / "data",
        env={"OPENREPLICA_API_KEY": "k-test", "OPENREPLICA_DATABASE_URL": database_url},
    )
    server.start()
    try:
        persona = server.post("/v2/personas", {"persona_name": "Keeper"}, headers=KEY)
        ended = server.post("/v2/conversations", {"persona_id": persona["persona_id"]}, headers=KEY)
        live = server.post(
            "/v2/conversations", {"properties": {"participant_left_timeout": 600}}, headers=KEY
        )
        for conv, text in ((ended, "first conversation"), (live, "second one")):
            url = server.ws_url(conv["conversation_id"])
            async with websockets.connect(url, additional_headers=KEY) as ws:
                await ws.send(echo(text))
                await recv_until(ws, is_type("conversation.stopped_speaking"))
        server.post(f"/v2/conversations/{ended['conversation_id']}/end", headers=KEY)
        before = _get(server, f"/v2/conversations/{ended['conversation_id']}?verbose=true")
        live_events = _get(server, f"/v2/conversations/{live['conversation_id']}?verbose=true")
        assert [t["content"] for t in before["transcript"]] == ["first conversation"]
    finally:
        server.stop(signal.SIGKILL)  # no chance to end anything cleanly

    server.start()
    try:
        assert _get(server, f"/v2/personas/{persona['persona_id']}")["persona_name"] == "Keeper"
        after = _get(server, f"/v2/conversations/{ended['conversation_id']}?verbose=true")
        assert after == before
        recovered = _get(server, f"/v2/conversations/{live['conversation_id']}?verbose=true")
        assert recovered["status"] == "ended"
        assert recovered["shutdown_reason"] == "server_restarted"
        assert recovered["events"][:-1] == live_events["events"]
        last = recovered["events"][-1]
        assert last["event_type"] == "system.shutdown"
        assert last["seq"] == live_events["events"][-1]["seq"] + 1
        assert [t["content"] for t in recovered["transcript"]] == ["second one"]
        listed = _get(server, "/v2/conversations?status=ended")
        assert listed["total_count"] == 2

        # a clean stop ends what is live with `server_shutdown`
        third = server.post("/v2/conversations", {}, headers=KEY)
        async with websockets.connect(
            server.ws_url(third["conversation_id"]), additional_headers=KEY
        ) as ws:
            await recv_until(ws, is_type("system.replica_joined"))
            server.stop(signal.SIGTERM)
            messages = []
            try:
                async with asyncio.timeout(10):
                    async for message in ws:
                        messages.append(json.loads(message))
            except websockets.ConnectionClosed:
                pass
    finally:
        server.stop()
    server.start()
    try:
        body = _get(server, f"/v2/conversations/{third['conversation_id']}?verbose=true")
        assert (body["status"], body["shutdown_reason"]) == ("ended", "server_shutdown")
        assert body["events"][-1]["event_type"] == "system.shutdown"
    finally:
        server.stop()


async def test_webhooks_arrive_in_order_retried_and_signed(
    tmp_path: Path, stub_server: StartStub
) -> None:
    failures = {"/flaky": 2}
    seen: dict[str, list[Request]] = {"/ok": [], "/flaky": []}

    async def handle(request: Request) -> Reply:
        if failures.get(request.path, 0) > 0:
            failures[request.path] -= 1
            return Reply(status=500)
        seen[request.path].append(request)
        return Reply(status=204)

    receiver = await stub_server(handle)
    server = ServerProcess(
        tmp_path / "data",
        env={"OPENREPLICA_WEBHOOK_SECRET": "shh", "OPENREPLICA_WEBHOOK_RETRY_DELAY": "0.05"},
    )
    server.start()
    try:
        ids = {}
        for path in ("/ok", "/flaky"):
            cid = server.conversation(callback_url=receiver.url + path)
            ids[path] = cid
            async with websockets.connect(server.ws_url(cid)) as ws:
                await ws.send(echo(f"hello from {path}"))
                await recv_until(ws, is_type("conversation.stopped_speaking"))
            async with httpx.AsyncClient() as client:
                await client.post(f"{server.url}/v2/conversations/{cid}/end")
        await eventually(
            lambda: len(seen["/ok"]) >= 3 and len(seen["/flaky"]) >= 3,
            timeout=10,
            message="three webhooks on each receiver",
        )
    finally:
        server.stop()
    assert failures["/flaky"] == 0  # it failed twice, then got everything on retry
    for path, requests in seen.items():
        bodies = [json.loads(r.body) for r in requests]
        assert [b["event_type"] for b in bodies] == [
            "system.replica_joined",
            "system.shutdown",
            "application.transcription_ready",
        ]
        assert all(b["conversation_id"] == ids[path] for b in bodies)
        assert bodies[0]["webhook_url"] == receiver.url + path
        assert bodies[1]["properties"] == {"shutdown_reason": "end_conversation_endpoint_hit"}
        (line,) = bodies[2]["properties"]["transcript"]
        assert line["role"] == "replica" and line["content"] == f"hello from {path}"
        assert set(line) == {
            "role",
            "content",
            "timestamp",
            "seconds_from_start",
            "duration",
            "inference_id",
        }
        for request in requests:
            expected = "sha256=" + hmac.new(b"shh", request.body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(request.headers["x-openreplica-signature"], expected)
