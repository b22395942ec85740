"""`POST /v2/replicas`: a photo becomes a replica in the background; errors leave nothing."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from eventually import eventually
from face_models import require_face_models
from numpy.typing import NDArray
from requires import require_module
from stub_http import Reply, Request, StubServer

from openreplica.plugins.avatar.photo import PhotoAvatar

from .conftest import Api, MakeApi

skimage_data = require_module("skimage.data", "pip install scikit-image")


def png(rgb: NDArray[np.uint8]) -> bytes:
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return data.tobytes()


ASTRONAUT = np.asarray(skimage_data.astronaut(), np.uint8)


async def finished(api: Api, replica_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """Poll until training ends (bounded)."""
    deadline = time.monotonic() + timeout
    seen: set[str] = set()
    while time.monotonic() < deadline:
        body: dict[str, Any] = (await api.client.get(f"/v2/replicas/{replica_id}")).json()
        seen.add(body["training_progress"])
        if body["status"] != "started":
            body["_progress_seen"] = seen
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"replica {replica_id} still training after {timeout} s")


@pytest.fixture
async def hooks() -> Any:
    received: list[dict[str, Any]] = []

    async def handle(request: Request) -> Reply:
        received.append(request.json())
        return Reply(200)

    server = StubServer(handle)
    await server.start()
    server.received = received  # type: ignore[attr-defined]
    yield server
    await server.stop()


@pytest.fixture
async def api(make_api: MakeApi) -> Api:
    return await make_api(face_models_dir=require_face_models(), replica_fetch_private=True)


def replica_files(api: Api) -> list[str]:
    root = Path(api.app.state.services.settings.data_dir) / "replicas"
    return (
        sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        if root.exists()
        else []
    )


async def test_an_uploaded_photo_becomes_a_photoreal_replica(api: Api, hooks: Any) -> None:
    response = await api.client.post(
        "/v2/replicas",
        data={"replica_name": "Eileen", "callback_url": hooks.url + "/hook"},
        files={"file": ("astronaut.png", png(ASTRONAUT), "image/png")},
    )
    assert response.status_code == 200, response.text
    started = response.json()
    rid = started["replica_id"]
    assert started["status"] == "started" and started["replica_type"] == "user"
    assert started["replica_name"] == "Eileen"

    done = await finished(api, rid)
    assert done["status"] == "completed" and done["training_progress"] == "100/100"
    assert done["replica_name"] == "Eileen" and done["kind"] == "portrait"
    users = (await api.client.get("/v2/replicas", params={"replica_type": "user"})).json()
    assert [r["replica_id"] for r in users["data"]] == [rid]

    thumb = await api.client.get(done["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    image = cv2.imdecode(np.frombuffer(thumb.content, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape == (256, 256, 3)

    assert isinstance(api.app.state.services.catalog.get(rid), PhotoAvatar)
    await eventually(lambda: len(hooks.received) == 1, timeout=10, message="the webhook")
    hook = hooks.received[0]
    assert hook["event_type"] == "application.replica_training_finished"
    assert hook["properties"] == {"replica_id": rid, "status": "completed"}

    assert (await api.client.delete(f"/v2/replicas/{rid}")).status_code == 204
    assert (await api.client.get(f"/v2/replicas/{rid}")).status_code == 404
    assert replica_files(api) == []
    assert (await api.client.delete(f"/v2/replicas/{rid}")).status_code == 404


def two_faces() -> NDArray[np.uint8]:
    face = ASTRONAUT[0:300, 100:350]
    return np.ascontiguousarray(np.hstack([face, face]))


@pytest.mark.parametrize(
    ("photo", "error"),
    [
        (png(np.asarray(skimage_data.coffee(), np.uint8)), "no face found"),
        (png(two_faces()), "2 faces in the photo"),
        (
            png(
                np.asarray(
                    cv2.resize(ASTRONAUT, (200, 200), interpolation=cv2.INTER_AREA), np.uint8
                )
            ),
            "px wide",
        ),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "not a readable image"),
        (b"", "empty"),
    ],
    ids=["no-face", "two-faces", "face-too-small", "corrupt", "empty"],
)
async def test_bad_photos_fail_with_a_reason_and_leave_nothing(
    api: Api, hooks: Any, photo: bytes, error: str
) -> None:
    response = await api.client.post(
        "/v2/replicas",
        data={"replica_name": "Bad", "callback_url": hooks.url + "/hook"},
        files={"file": ("photo.png", photo, "image/png")},
    )
    assert response.status_code == 200, response.text
    rid = response.json()["replica_id"]
    done = await finished(api, rid)
    assert done["status"] == "error" and error in done["error_message"]
    assert replica_files(api) == []
    await eventually(lambda: len(hooks.received) == 1, timeout=10, message="the webhook")
    assert hooks.received[0]["properties"]["status"] == "error"
    assert error in hooks.received[0]["properties"]["error_message"]
    # A failed replica is listed until deleted, and cannot be used in a call.
    assert rid not in api.app.state.services.catalog
    assert (await api.client.delete(f"/v2/replicas/{rid}")).status_code == 204
    assert (await api.client.get(f"/v2/replicas/{rid}")).status_code == 404


async def test_train_image_url_is_fetched_with_bounds(make_api: MakeApi) -> None:
    photo = png(ASTRONAUT)

    async def handle(request: Request) -> Reply:
        if request.path == "/page.html":
            return Reply(200, {"Content-Type": "text/html"}, b"<html></html>")
        return Reply(200, {"Content-Type": "image/png"}, photo)

    server = StubServer(handle)
    await server.start()
    try:
        allowed = await make_api(face_models_dir=require_face_models(), replica_fetch_private=True)
        rid = (await allowed.create("/v2/replicas", {"train_image_url": server.url + "/a.png"}))[
            "replica_id"
        ]
        assert (await finished(allowed, rid))["status"] == "completed"

        html = await allowed.create("/v2/replicas", {"train_image_url": server.url + "/page.html"})
        done = await finished(allowed, html["replica_id"])
        assert done["status"] == "error" and "not an image" in done["error_message"]

        strict = await make_api(face_models_dir=require_face_models())
        refused = await strict.create("/v2/replicas", {"train_image_url": server.url + "/a.png"})
        done = await finished(strict, refused["replica_id"])
        assert done["status"] == "error" and "non-public address 127.0.0.1" in done["error_message"]
        assert replica_files(strict) == []
    finally:
        await server.stop()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "send `train_image_url` or `train_video_url`, or upload"),
        (
            {"train_video_url": "http://x/v.mp4", "train_image_url": "http://x/a.png"},
            "not both",
        ),
        ({"train_image_url": "http://x/a.png", "callback_url": "ftp://x"}, "callback_url"),
        ({"train_image_url": "http://x/a.png", "replica_name": ""}, "replica_name"),
    ],
)
async def test_requests_that_cannot_start_get_400(
    api: Api, body: dict[str, Any], error: str
) -> None:
    response = await api.client.post("/v2/replicas", json=body)
    assert response.status_code == 400 and error in response.json()["error"]
    assert (await api.client.get("/v2/replicas", params={"replica_type": "user"})).json()[
        "total_count"
    ] == 0


async def test_built_in_replicas_cannot_be_deleted(api: Api) -> None:
    response = await api.client.delete("/v2/replicas/r-aria")
    assert response.status_code == 400 and "system replica" in response.json()["error"]
    assert (await api.client.get("/v2/replicas/r-aria")).status_code == 200
