"""Replica training jobs survive a restart of a real server process: one cut off by
SIGKILL while fetching its photo is `error` with the interruption as its reason (and its
webhook says so); one that had already failed keeps its own error."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from eventually import eventually
from stub_http import Reply, Request, StubServer
from webhook_receiver import WebhookReceiver

from openreplica.server.replica_jobs import INTERRUPTED

from .conftest import ServerProcess
from .test_durable_webhooks import start, stop

ENV = {"OPENREPLICA_REPLICA_FETCH_PRIVATE": "1", "OPENREPLICA_WEBHOOK_RETRY_DELAY": "0.1"}


@pytest.fixture
async def photos() -> AsyncIterator[StubServer]:
    """`/hang` never answers (a job stays at `started`); `/broken` is not an image."""
    never = asyncio.Event()

    async def handle(request: Request) -> Reply:
        if request.path == "/hang":
            await never.wait()
        return Reply(200, {"content-type": "image/png"}, b"this is not a PNG")

    server = StubServer(handle)
    await server.start()
    yield server
    await server.stop()


async def replica(client: httpx.AsyncClient, server: ServerProcess, rid: str) -> dict[str, Any]:
    response = await client.get(f"{server.url}/v2/replicas/{rid}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_job_cut_off_by_a_kill_is_an_error_after_the_restart(
    tmp_path: Path, photos: StubServer, receiver: WebhookReceiver
) -> None:
    server = ServerProcess(tmp_path / "data", env=ENV)
    await start(server)
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            hung = (
                await client.post(
                    f"{server.url}/v2/replicas",
                    json={
                        "train_image_url": photos.url + "/hang",
                        "replica_name": "Hung",
                        "callback_url": receiver.url + "/hook",
                    },
                )
            ).json()
            broken = (
                await client.post(
                    f"{server.url}/v2/replicas",
                    json={"train_image_url": photos.url + "/broken", "replica_name": "Broken"},
                )
            ).json()
            await eventually(
                lambda: any(r.path == "/hang" for r in photos.requests),
                message="the hung job is fetching its photo",
            )

            async def broken_failed() -> bool:
                status = (await replica(client, server, broken["replica_id"]))["status"]
                return bool(status == "error")

            await eventually(broken_failed, message="the broken photo's job failed")
            before = await replica(client, server, hung["replica_id"])
            assert before["status"] == "started"
    finally:
        await stop(server, signal.SIGKILL)
    assert receiver.requests == []  # nothing was said about the hung job before the kill

    await start(server)
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            after = await replica(client, server, hung["replica_id"])
            assert after["status"] == "error"
            assert after["error_message"] == INTERRUPTED
            assert after["replica_name"] == "Hung"
            assert after["created_at"] == before["created_at"]
            failed = await replica(client, server, broken["replica_id"])
            assert failed["status"] == "error"
            assert "not a readable image" in failed["error_message"]
            listed = (await client.get(f"{server.url}/v2/replicas?replica_type=user")).json()
            statuses = {r["replica_id"]: r["status"] for r in listed["data"]}
            assert statuses == {hung["replica_id"]: "error", broken["replica_id"]: "error"}
            await eventually(lambda: len(receiver.delivered) == 1, message="the failure webhook")
            hook = json.loads(receiver.delivered[0].body)
            assert hook["event_type"] == "application.replica_training_finished"
            assert hook["properties"] == {
                "replica_id": hung["replica_id"],
                "status": "error",
                "error_message": INTERRUPTED,
            }
            deleted = await client.delete(f"{server.url}/v2/replicas/{hung['replica_id']}")
            assert deleted.status_code == 204
            gone = await client.get(f"{server.url}/v2/replicas/{hung['replica_id']}")
            assert gone.status_code == 404
    finally:
        await stop(server, signal.SIGTERM)

    await start(server)  # a second restart changes nothing more and sends nothing more
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            failed = await replica(client, server, broken["replica_id"])
            assert failed["status"] == "error"
            gone = await client.get(f"{server.url}/v2/replicas/{hung['replica_id']}")
            assert gone.status_code == 404
    finally:
        await stop(server, signal.SIGTERM)
    assert len(receiver.requests) == 1
