"""The hosted API's new names against a real server (SPEC §5 [added]): `/v2/pals` is
`/v2/personas`; `pal_id`, `face_id`, `default_face_id` alias the old request fields and
responses carry both names."""

from __future__ import annotations

from typing import Any

import httpx

from .conftest import ServerProcess


def _face(server: ServerProcess, index: int = 0) -> str:
    replicas = server.get("/v2/replicas")["data"]
    assert all(r["face_id"] == r["replica_id"] for r in replicas)
    face: str = replicas[index]["replica_id"]
    return face


def test_pals_are_personas_under_either_path_and_either_name(server: ServerProcess) -> None:
    face, other = _face(server, 0), _face(server, 1)
    pal = server.post("/v2/pals", {"persona_name": "Pal", "default_face_id": face})
    pid = pal["persona_id"]
    assert pal["pal_id"] == pid and pal["default_face_id"] == pal["default_replica_id"] == face
    assert server.get(f"/v2/personas/{pid}") == server.get(f"/v2/pals/{pid}") == pal

    patch = [{"op": "replace", "path": "/default_face_id", "value": other}]
    patched = httpx.patch(f"{server.url}/v2/pals/{pid}", json=patch).json()
    assert patched["default_replica_id"] == patched["default_face_id"] == other
    refused = httpx.patch(
        f"{server.url}/v2/pals/{pid}", json=[{"op": "replace", "path": "/pal_id", "value": "x"}]
    )
    assert refused.status_code == 400 and "pal_id" in refused.json()["error"]

    listed: dict[str, Any] = server.get("/v2/pals", params={"limit": 100})
    mine = next(p for p in listed["data"] if p["persona_id"] == pid)
    assert mine["pal_id"] == pid and mine["default_face_id"] == other
    assert listed["total_count"] == server.get("/v2/personas")["total_count"]

    conversation = server.post("/v2/conversations", {"pal_id": pid, "face_id": face})
    assert conversation["persona_id"] == conversation["pal_id"] == pid
    assert conversation["replica_id"] == conversation["face_id"] == face
    cid = conversation["conversation_id"]
    assert server.get(f"/v2/conversations/{cid}")["pal_id"] == pid
    listed = server.get("/v2/conversations", params={"limit": 100})
    assert next(c for c in listed["data"] if c["conversation_id"] == cid)["face_id"] == face

    clash = httpx.post(
        f"{server.url}/v2/conversations", json={"pal_id": pid, "persona_id": "p-other"}
    )
    assert clash.status_code == 400
    assert clash.json() == {
        "error": "`pal_id` and `persona_id` name different objects; send one of them"
    }
    assert httpx.delete(f"{server.url}/v2/pals/{pid}").status_code == 204
    assert httpx.get(f"{server.url}/v2/personas/{pid}").status_code == 404
