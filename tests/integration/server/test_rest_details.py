"""The REST details a wrapper written for the hosted API relies on (SPEC §5, issue 12),
each against a real server process: `limit` clamped, replica objects, get and rename one,
`default_replica_id` checked, `persona_type`, `callback_url` always present, and an echo
sent with `modality: "speech"`."""

from __future__ import annotations

from pathlib import Path

import cv2
import httpx
import numpy as np
import websockets

from .conftest import ServerProcess
from .test_ws import echo, is_type, recv_until


def write_portrait(replicas_dir: Path, replica_id: str) -> Path:
    """A small real PNG in the portrait directory (listing never decodes it)."""
    replicas_dir.mkdir(parents=True, exist_ok=True)
    path = replicas_dir / f"{replica_id}.png"
    image = np.full((64, 64, 3), 200, np.uint8)
    assert cv2.imwrite(str(path), image)
    return path


def test_list_limits_above_the_maximum_are_clamped(server: ServerProcess) -> None:
    for n in range(105):
        server.post("/v2/personas", {"persona_name": f"p{n}"})
    for path in ("/v2/personas", "/v2/conversations", "/v2/replicas"):
        response = httpx.get(server.url + path, params={"limit": 1000})
        assert response.status_code == 200, (path, response.text)
    personas = httpx.get(server.url + "/v2/personas", params={"limit": 1000}).json()
    assert len(personas["data"]) == 100 and personas["total_count"] >= 105
    second = httpx.get(server.url + "/v2/personas", params={"limit": 1000, "page": 2}).json()
    assert len(second["data"]) == personas["total_count"] - 100
    assert httpx.get(server.url + "/v2/personas", params={"limit": 0}).status_code == 400


def test_replica_objects_have_the_hosted_fields(server: ServerProcess) -> None:
    listed = server.get("/v2/replicas")
    assert listed["total_count"] == len(listed["data"]) >= 1
    first = listed["data"][0]
    assert first["replica_type"] == "system" and first["kind"] == "character"
    assert first["status"] == "completed" and first["training_progress"] == "100/100"
    assert first["created_at"].endswith("Z") and first["replica_name"]
    one = server.get(f"/v2/replicas/{first['replica_id']}")
    assert one == first
    missing = httpx.get(server.url + "/v2/replicas/r-nobody")
    assert missing.status_code == 404 and "r-nobody" in missing.json()["error"]
    systems = server.get("/v2/replicas", params={"replica_type": "system"})["data"]
    assert systems and all(r["replica_type"] == "system" for r in systems)
    only = server.get("/v2/replicas", params={"replica_ids": first["replica_id"]})
    assert [r["replica_id"] for r in only["data"]] == [first["replica_id"]]


def test_a_portrait_is_a_user_replica_renamed_for_good(tmp_path: Path) -> None:
    proc = ServerProcess(tmp_path / "data")
    write_portrait(proc.data_dir / "replicas", "r-sam")
    proc.start()
    try:
        sam = proc.get("/v2/replicas/r-sam")
        assert sam["replica_type"] == "user" and sam["replica_name"] == "Sam"
        users = proc.get("/v2/replicas", params={"replica_type": "user"})["data"]
        assert [r["replica_id"] for r in users] == ["r-sam"]

        renamed = httpx.patch(proc.url + "/v2/replicas/r-sam/name", json={"replica_name": "Rio"})
        assert renamed.status_code == 200 and renamed.json()["replica_name"] == "Rio"
        assert proc.get("/v2/replicas/r-sam")["replica_name"] == "Rio"

        system_id = proc.get("/v2/replicas", params={"replica_type": "system"})["data"][0]
        refused = httpx.patch(
            proc.url + f"/v2/replicas/{system_id['replica_id']}/name",
            json={"replica_name": "X"},
        )
        assert refused.status_code == 400 and "system replica" in refused.json()["error"]
        unknown = httpx.patch(proc.url + "/v2/replicas/r-x/name", json={"replica_name": "X"})
        assert unknown.status_code == 404
        empty = httpx.patch(proc.url + "/v2/replicas/r-sam/name", json={"replica_name": ""})
        assert empty.status_code == 400 and "replica_name" in empty.json()["error"]
    finally:
        proc.stop()
    proc.start()  # the name outlives the process
    try:
        assert proc.get("/v2/replicas/r-sam")["replica_name"] == "Rio"
    finally:
        proc.stop()


def test_default_replica_id_is_checked_on_create_and_patch(server: ServerProcess) -> None:
    bad = httpx.post(server.url + "/v2/personas", json={"default_replica_id": "r-ghost"})
    assert bad.status_code == 400
    assert bad.json()["error"].startswith("`default_replica_id`") and "r-ghost" in bad.text

    replica_id = server.get("/v2/replicas")["data"][0]["replica_id"]
    persona = server.post("/v2/personas", {"default_replica_id": replica_id})
    assert persona["default_replica_id"] == replica_id
    patch = [{"op": "replace", "path": "/default_replica_id", "value": "r-ghost"}]
    refused = httpx.patch(server.url + f"/v2/personas/{persona['persona_id']}", json=patch)
    assert refused.status_code == 400 and "r-ghost" in refused.json()["error"]
    unchanged = server.get(f"/v2/personas/{persona['persona_id']}")
    assert unchanged["default_replica_id"] == replica_id


def test_persona_type_is_accepted_and_returned(server: ServerProcess) -> None:
    plain = server.post("/v2/personas", {"persona_name": "plain"})
    assert plain["persona_type"] == "user"
    stock = server.post("/v2/personas", {"persona_name": "stock", "persona_type": "system"})
    assert stock["persona_type"] == "system"
    assert server.get(f"/v2/personas/{stock['persona_id']}")["persona_type"] == "system"
    wrong = httpx.post(server.url + "/v2/personas", json={"persona_type": "alien"})
    assert wrong.status_code == 400 and "persona_type" in wrong.json()["error"]


def test_callback_url_is_always_in_conversation_objects(server: ServerProcess) -> None:
    created = server.post("/v2/conversations", {"conversation_name": "no hook"})
    assert "callback_url" in created and created["callback_url"] is None
    cid = created["conversation_id"]
    assert server.get(f"/v2/conversations/{cid}")["callback_url"] is None
    listed = server.get("/v2/conversations", params={"limit": 100})["data"]
    assert all("callback_url" in c for c in listed)
    hooked = server.post("/v2/conversations", {"callback_url": "http://127.0.0.1:9/hook"})
    assert hooked["callback_url"] == "http://127.0.0.1:9/hook"
    assert "meeting_token" not in created  # other unset keys stay out
    server.post(f"/v2/conversations/{cid}/end")
    server.post(f"/v2/conversations/{hooked['conversation_id']}/end")


async def test_an_echo_with_modality_speech_is_spoken_as_text(server: ServerProcess) -> None:
    cid = server.conversation()
    async with websockets.connect(server.ws_url(cid)) as ws:
        await recv_until(ws, is_type("system.replica_joined"))
        await ws.send(echo("Spoken from a playground.", modality="speech"))
        got = await recv_until(ws, is_type("conversation.utterance"))
        assert not [m for m in got if m["event_type"] == "system.error"]
        spoken = got[-1]["properties"]
        assert (spoken["role"], spoken["speech"]) == ("replica", "Spoken from a playground.")
    server.post(f"/v2/conversations/{cid}/end")
