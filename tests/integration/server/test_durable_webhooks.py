"""Durable webhooks and a clean stop against a real server process (SPEC §6, §2.1).

The receiver misbehaves on cue (fails, hangs past the timeout, resets the connection while
the server connects); the server is killed with SIGKILL or stopped with SIGTERM while
deliveries are pending and started again on the same data directory.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from eventually import eventually
from webhook_receiver import Received, WebhookReceiver

from .conftest import ServerProcess
from .test_ws import echo, is_type, recv_until

KEY = bytes(range(1, 33))
SECRET = "whsec_" + base64.b64encode(KEY).decode()
FAST_RETRIES = {
    "OPENREPLICA_WEBHOOK_SECRET": SECRET,
    "OPENREPLICA_WEBHOOK_RETRY_DELAY": "0.1",
    "OPENREPLICA_WEBHOOK_TIMEOUT": "1",
    "OPENREPLICA_WEBHOOK_MAX_ATTEMPTS": "1000",
}
#: A delivery failing since time T is next tried about T later (doubling delays), so after
#: a restart the first retry can be as far off as everything before the stop took.
AFTER_RESTART = 60.0
EVENTS = ["system.replica_joined", "system.shutdown", "application.transcription_ready"]


def standard_webhooks_valid(key: bytes, request: Received) -> bool:
    """Standard Webhooks verification, written from the spec, independent of the server:
    HMAC-SHA256 over "{webhook-id}.{webhook-timestamp}.{body}", base64, `v1,` prefix."""
    signed = b".".join(
        [request.headers["webhook-id"].encode(), request.headers["webhook-timestamp"].encode()]
    )
    mac = hmac.new(key, signed + b"." + request.body, hashlib.sha256).digest()
    expected = base64.b64encode(mac).decode()
    for entry in request.headers["webhook-signature"].split(" "):
        version, _, signature = entry.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return True
    return False


def by_delivery(requests: list[Received]) -> dict[str, list[Received]]:
    """Requests grouped by `webhook-id`, in the order each id was first seen."""
    grouped: dict[str, list[Received]] = {}
    for request in requests:
        grouped.setdefault(request.webhook_id, []).append(request)
    return grouped


def event_type(request: Received) -> str:
    value: str = json.loads(request.body)["event_type"]
    return value


async def start(server: ServerProcess) -> None:
    await asyncio.to_thread(server.start)  # the receiver shares this event loop


async def stop(server: ServerProcess, sig: signal.Signals) -> None:
    await asyncio.to_thread(server.stop, sig)


async def talk_and_end(server: ServerProcess, cid: str, text: str) -> None:
    async with websockets.connect(server.ws_url(cid)) as ws:
        await ws.send(echo(text))
        await recv_until(ws, is_type("conversation.stopped_speaking"))
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{server.url}/v2/conversations/{cid}/end")
        assert response.status_code == 200


async def create(server: ServerProcess, **body: Any) -> str:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{server.url}/v2/conversations", json=body)
        assert response.status_code == 200, response.text
        cid: str = response.json()["conversation_id"]
        return cid


async def test_a_receiver_that_resets_fails_and_hangs_gets_each_webhook_with_a_stable_id(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    receiver.plan = ["close", "fail", "hang"]  # the first delivery meets all three
    server = ServerProcess(tmp_path / "data", env=FAST_RETRIES)
    await start(server)
    try:
        cid = await create(server, callback_url=receiver.url + "/hook")
        await talk_and_end(server, cid, "hello receiver")
        await eventually(
            lambda: len(receiver.delivered) == 3, timeout=30, message="three deliveries"
        )
    finally:
        await stop(server, signal.SIGTERM)
    assert receiver.resets == 1
    deliveries = by_delivery(receiver.requests)
    assert [event_type(tries[0]) for tries in deliveries.values()] == EVENTS
    first, *_ = deliveries.values()
    # the hung attempt (which the receiver did process) and its retry share an id
    assert [r.behaviour for r in first] == ["fail", "hang", "ok"]
    for tries in deliveries.values():
        assert len({r.body for r in tries}) == 1  # retries resend the same body
        assert tries[-1].behaviour == "ok"
    assert [event_type(r) for r in receiver.delivered] == EVENTS
    now = time.time()
    for request in receiver.requests:
        assert standard_webhooks_valid(KEY, request)
        assert not standard_webhooks_valid(b"another key", request)
        assert abs(int(request.headers["webhook-timestamp"]) - now) < 120
        legacy = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(request.headers["x-openreplica-signature"], legacy)
        assert json.loads(request.body)["conversation_id"] == cid


async def test_a_delivery_retried_when_the_server_is_killed_is_made_after_the_restart(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    receiver.default = "fail"
    server = ServerProcess(tmp_path / "data", env=FAST_RETRIES)
    await start(server)
    try:
        cid = await create(server, callback_url=receiver.url + "/hook")
        await talk_and_end(server, cid, "remember me")
        await eventually(
            lambda: len(receiver.requests) >= 3, timeout=30, message="retries under way"
        )
    finally:
        await stop(server, signal.SIGKILL)
    before = by_delivery(receiver.requests)
    assert len(before) == 1  # still on the first delivery, in order
    (joined_id,) = before
    assert event_type(before[joined_id][0]) == "system.replica_joined"

    receiver.default = "ok"
    await start(server)
    try:
        await eventually(
            lambda: len(receiver.delivered) == 3,
            timeout=AFTER_RESTART,
            message="delivery after restart",
        )
    finally:
        await stop(server, signal.SIGTERM)
    assert [event_type(r) for r in receiver.delivered] == EVENTS
    assert receiver.delivered[0].webhook_id == joined_id
    transcript = json.loads(receiver.delivered[2].body)["properties"]["transcript"]
    assert [line["content"] for line in transcript] == ["remember me"]


async def test_sigterm_with_a_failing_receiver_keeps_shutdown_and_transcript_for_next_start(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    receiver.default = "fail"
    env = {**FAST_RETRIES, "OPENREPLICA_WEBHOOK_SHUTDOWN_GRACE": "0.5"}
    server = ServerProcess(tmp_path / "data", env=env)
    await start(server)
    try:
        cid = await create(
            server,
            callback_url=receiver.url + "/hook",
            properties={"participant_left_timeout": 600},
        )
        async with websockets.connect(server.ws_url(cid)) as ws:
            await ws.send(echo("still live"))
            await recv_until(ws, is_type("conversation.stopped_speaking"))
        await eventually(
            lambda: len(receiver.requests) >= 2, timeout=30, message="failing attempts"
        )
        await stop(server, signal.SIGTERM)  # the conversation is live: the stop ends it
        # it stopped by itself (uvicorn re-raises the signal), not killed after a timeout
        assert server.process is not None and server.process.returncode == -signal.SIGTERM
    finally:
        await stop(server, signal.SIGKILL)
    before = {event_type(r) for r in receiver.requests}
    assert before <= set(EVENTS) and not receiver.delivered

    receiver.default = "ok"
    await start(server)
    try:
        await eventually(
            lambda: len(receiver.delivered) == 3,
            timeout=AFTER_RESTART,
            message="delivery after restart",
        )
    finally:
        await stop(server, signal.SIGTERM)
    assert [event_type(r) for r in receiver.delivered] == EVENTS
    shutdown = json.loads(receiver.delivered[1].body)
    assert shutdown["properties"] == {"shutdown_reason": "server_shutdown"}
    transcript = json.loads(receiver.delivered[2].body)["properties"]["transcript"]
    assert [line["content"] for line in transcript] == ["still live"]
    # a delivery tried before the stop keeps its id after it
    ids_before = {r.webhook_id for r in receiver.requests if r.behaviour == "fail"}
    assert receiver.delivered[0].webhook_id in ids_before


async def test_an_exception_outside_httpx_errors_costs_attempts_not_the_worker(
    tmp_path: Path,
) -> None:
    # Port 99999 makes the HTTP stack raise an ExceptionGroup, not an httpx.HTTPError:
    # each delivery must still be tried max_attempts times, then given up, in order.
    env = {**FAST_RETRIES, "OPENREPLICA_WEBHOOK_MAX_ATTEMPTS": "3"}
    server = ServerProcess(tmp_path / "data", env=env)
    await start(server)
    db = tmp_path / "data" / "openreplica.db"

    def rows() -> list[tuple[str, int]]:
        with sqlite3.connect(db) as conn:
            return conn.execute(
                "SELECT status, attempts FROM webhook_deliveries ORDER BY id"
            ).fetchall()

    try:
        cid = await create(server, callback_url="http://127.0.0.1:99999/hook")
        await talk_and_end(server, cid, "nobody hears this")
        await eventually(
            lambda: rows() == [("failed", 3)] * 3, timeout=30, message="every delivery tried"
        )
    finally:
        await stop(server, signal.SIGTERM)
    assert "Task exception was never retrieved" not in server.output()


async def test_sigterm_sends_system_shutdown_then_closes_with_4410(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data")
    await start(server)
    try:
        cid = await create(server)
        async with websockets.connect(server.ws_url(cid)) as ws:
            await recv_until(ws, is_type("system.replica_joined"))
            server.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
            messages = []
            with pytest.raises(websockets.ConnectionClosed):
                async with asyncio.timeout(15):
                    while True:
                        messages.append(json.loads(await ws.recv()))
            assert ws.close_code == 4410
        assert messages, "no event before the close"
        last = messages[-1]
        assert last["event_type"] == "system.shutdown"
        assert last["properties"] == {"shutdown_reason": "server_shutdown"}
    finally:
        await stop(server, signal.SIGTERM)
