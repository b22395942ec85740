"""`POST /v2/replicas` with a video: trained in a worker process, progress, webhook,
the replica's frames follow visemes; bad videos fail with a reason and leave nothing."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from eventually import eventually
from face_models import load_face_models, require_face_models
from numpy.typing import NDArray
from requires import require_module
from stub_http import Reply, Request, StubServer
from talking_video import TalkingVideo, encode_video, piper_speech, talking_video

from openreplica.plugins.avatar.lipsync import viseme_weights
from openreplica.plugins.avatar.video_avatar import VideoAvatar
from openreplica.plugins.avatar.video_training import VideoRejected
from openreplica.server.replica_video import VideoTrainer

from .conftest import Api, MakeApi
from .test_replicas_create import finished, hooks, replica_files

__all__ = ["hooks"]  # the fixture, shared

skimage_data = require_module("skimage.data", "pip install scikit-image")
ASTRONAUT = np.asarray(skimage_data.astronaut(), np.uint8)


@pytest.fixture(scope="module")
def video() -> TalkingVideo:
    return talking_video(load_face_models(), ASTRONAUT, "Hello, my name is Eileen.", size=256)


@pytest.fixture
async def api(make_api: MakeApi) -> Api:
    return await make_api(face_models_dir=require_face_models(), replica_fetch_private=True)


async def test_an_uploaded_video_becomes_a_video_replica(
    api: Api, hooks: Any, video: TalkingVideo
) -> None:
    response = await api.client.post(
        "/v2/replicas",
        data={"replica_name": "Eileen on video", "callback_url": hooks.url + "/hook"},
        files={"file": ("talking.mp4", video.data, "video/mp4")},
    )
    assert response.status_code == 200, response.text
    started = response.json()
    rid = started["replica_id"]
    assert started["status"] == "started" and started["kind"] == "video"

    done = await finished(api, rid, timeout=120)
    assert done["status"] == "completed", done
    assert done["training_progress"] == "100/100" and done["kind"] == "video"
    assert len(done["_progress_seen"] - {"0/100", "100/100"}) >= 1  # progress in between
    assert done["replica_name"] == "Eileen on video"
    assert replica_files(api) == [".thumbnails/" + rid + ".jpg", rid + ".video"]
    thumb = await api.client.get(done["thumbnail_url"])
    image = cv2.imdecode(np.frombuffer(thumb.content, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape == (256, 256, 3)
    await eventually(lambda: len(hooks.received) == 1, timeout=10, message="the webhook")
    assert hooks.received[0]["properties"] == {"replica_id": rid, "status": "completed"}

    # A conversation's renderer: the mouth opens for "aa" and closes for m/b/p.
    avatar = api.app.state.services.catalog.get(rid)
    assert isinstance(avatar, VideoAvatar) and avatar.name == "Eileen on video"
    stream = avatar.create_stream(256, 256, seed=0)
    replica = avatar.replica(256, 256)
    gaps = {}
    for v in ("aa", "mbp", "aa", "mbp"):
        for i in range(4):  # a few frames for the jump penalty to settle
            stream.render_visemes(i / 25, viseme_weights(v))
        gaps[v] = float(replica.index.features[stream.last_choice, 0])
    assert gaps["aa"] > gaps["mbp"] + 0.05, gaps

    assert (await api.client.delete(f"/v2/replicas/{rid}")).status_code == 204
    assert replica_files(api) == []
    assert rid not in api.app.state.services.catalog


async def test_deleting_a_video_in_training_stops_it_and_leaves_nothing(
    api: Api, hooks: Any, video: TalkingVideo
) -> None:
    response = await api.client.post(
        "/v2/replicas",
        data={"callback_url": hooks.url + "/hook"},
        files={"file": ("talking.webm", video.data, "application/octet-stream")},
    )
    rid = response.json()["replica_id"]
    assert response.json()["kind"] == "video"  # told by its name
    job = api.app.state.replica_trainer.running[rid]
    await eventually(lambda: job.progress >= 5, timeout=30, message="training under way")
    assert (await api.client.delete(f"/v2/replicas/{rid}")).status_code == 204
    assert job.task is not None and job.task.cancelled()
    workers = [p for p in multiprocessing.active_children() if "video-training" in p.name]
    assert workers == []  # the worker process was stopped and reaped
    assert replica_files(api) == []
    assert (await api.client.get(f"/v2/replicas/{rid}")).status_code == 404
    assert hooks.received == []


def _noise_video(seconds: float) -> bytes:
    """A picture with no face (coffee) over Piper's speech."""
    pcm, _ = piper_speech("Good morning, this is a test.")
    coffee = np.asarray(
        cv2.resize(np.asarray(skimage_data.coffee(), np.uint8), (256, 192)), np.uint8
    )
    return encode_video([coffee] * round(seconds * 25), pcm)


def _still_video(picture: NDArray[np.uint8], seconds: float) -> bytes:
    """A still picture over Piper's speech."""
    pcm, _ = piper_speech("Good morning, this is a test.")
    return encode_video([np.ascontiguousarray(picture)] * round(seconds * 25), pcm)


@pytest.fixture(scope="module")
def bad_videos(video: TalkingVideo) -> dict[str, bytes]:
    rig_frames_silent = talking_video(
        load_face_models(), ASTRONAUT, "Hello, my name is Eileen.", size=256, silent=True
    )
    face = ASTRONAUT[0:300, 100:350]
    small = np.asarray(cv2.resize(ASTRONAUT, (200, 200), interpolation=cv2.INTER_AREA), np.uint8)
    return {
        "no-speech": rig_frames_silent.data,
        "no-face": _noise_video(3.0),
        "two-faces": _still_video(np.hstack([face, face]), 3.0),
        "face-too-small": _still_video(small, 3.0),
        "corrupt": video.data[:64] + bytes(4096),
        "too-short": encode_video([ASTRONAUT[:256, 100:356]] * 25, bytes(2 * 24000)),
        "too-long": encode_video([ASTRONAUT[:64, 100:164]] * 125, bytes(2 * 24000 * 125), fps=1),
    }


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("no-speech", "no speech heard"),
        ("no-face", "no face found in the video"),
        ("two-faces", "2 faces in the video"),
        ("face-too-small", "px wide in the video"),
        ("corrupt", "not a readable video"),
        ("too-short", "the video is 1.0 s long"),
        ("too-long", "the video is 125 s long"),
    ],
)
async def test_bad_videos_fail_with_a_reason_and_leave_nothing(
    api: Api, hooks: Any, bad_videos: dict[str, bytes], case: str, error: str
) -> None:
    response = await api.client.post(
        "/v2/replicas",
        data={"callback_url": hooks.url + "/hook"},
        files={"file": ("clip.mp4", bad_videos[case], "video/mp4")},
    )
    assert response.status_code == 200, response.text
    rid = response.json()["replica_id"]
    done = await finished(api, rid, timeout=120)
    assert done["status"] == "error" and error in done["error_message"], done
    assert done["kind"] == "video"
    assert replica_files(api) == []
    await eventually(lambda: len(hooks.received) == 1, timeout=10, message="the webhook")
    assert error in hooks.received[0]["properties"]["error_message"]
    assert rid not in api.app.state.services.catalog


async def test_train_video_url_is_fetched_with_bounds(make_api: MakeApi) -> None:
    async def handle(request: Request) -> Reply:
        if request.path == "/page.html":
            return Reply(200, {"Content-Type": "text/html"}, b"<html></html>")
        return Reply(200, {"Content-Type": "video/mp4"}, b"\x00\x00\x00\x18ftypmp42" + bytes(64))

    server = StubServer(handle)
    await server.start()
    try:
        allowed = await make_api(face_models_dir=require_face_models(), replica_fetch_private=True)
        html = await allowed.create("/v2/replicas", {"train_video_url": server.url + "/page.html"})
        done = await finished(allowed, html["replica_id"])
        assert done["status"] == "error" and "text/html, not a video" in done["error_message"]
        fetched = await allowed.create("/v2/replicas", {"train_video_url": server.url + "/v.mp4"})
        done = await finished(allowed, fetched["replica_id"], timeout=120)
        assert done["status"] == "error" and "not a readable video" in done["error_message"]

        strict = await make_api(face_models_dir=require_face_models())
        refused = await strict.create("/v2/replicas", {"train_video_url": server.url + "/v.mp4"})
        done = await finished(strict, refused["replica_id"])
        assert done["status"] == "error" and "non-public address 127.0.0.1" in done["error_message"]
        assert replica_files(strict) == [] and replica_files(allowed) == []
    finally:
        await server.stop()


async def test_a_video_without_the_face_models_fails_saying_so(
    make_api: MakeApi, video: TalkingVideo
) -> None:
    api = await make_api()  # no face models pulled
    response = await api.client.post(
        "/v2/replicas", files={"file": ("talking.mp4", video.data, "video/mp4")}
    )
    done = await finished(api, response.json()["replica_id"])
    assert done["status"] == "error" and "openreplica models pull face" in done["error_message"]
    assert replica_files(api) == []


async def test_a_worker_over_its_time_limit_is_stopped(tmp_path: Path, video: TalkingVideo) -> None:
    trainer = VideoTrainer(require_face_models(), timeout=0.5)
    output, thumb = tmp_path / "r-x.video", tmp_path / ".thumbnails" / "r-x.jpg"
    with pytest.raises(VideoRejected, match=r"took over 0\.5 s"):
        await trainer.train(video.data, output, thumb, lambda p: None)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == []
    assert not [p for p in multiprocessing.active_children() if "video-training" in p.name]
