"""Training a video replica from a real (synthetic) talking video: the photo rig speaking
Piper's speech with Piper's own lip timing, encoded by PyAV as H.264 + AAC. Training
knows nothing of the script: it finds the speech, recognises and aligns it itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from face_models import load_face_models
from numpy.typing import NDArray
from talking_video import TalkingVideo, talking_video

from openreplica.plugins.avatar.lipsync import viseme_weights
from openreplica.plugins.avatar.video_avatar import VideoAvatar, VideoReplicaData
from openreplica.plugins.avatar.video_training import TrainedVideo, VideoLimits, train_video
from openreplica.plugins.visemes import VISEMES, Viseme

TEXT = (
    "Hello, my name is Eileen. I flew on the space shuttle four times. "
    "Would you like to hear about the view from orbit? It is beautiful."
)


@pytest.fixture(scope="module")
def video(astronaut: NDArray[np.uint8]) -> TalkingVideo:
    return talking_video(load_face_models(), astronaut, TEXT, size=256)


@pytest.fixture(scope="module")
def trained(video: TalkingVideo, tmp_path_factory: pytest.TempPathFactory) -> TrainedVideo:
    path = tmp_path_factory.mktemp("video") / "talking.mp4"
    path.write_bytes(video.data)
    seen: list[int] = []
    result = train_video(path, load_face_models(), VideoLimits(), seen.append)
    assert seen == sorted(seen) and seen[0] <= 10 and seen[-1] == 95
    return result


def test_every_frame_is_indexed_and_speech_is_found(
    video: TalkingVideo, trained: TrainedVideo
) -> None:
    data = trained.data
    assert len(data.jpegs) == len(video.labels)  # 25 fps in, 25 fps kept, none lost
    speech = sum(v not in ("rest",) for v in video.labels) / 25
    assert abs(trained.stats["speech_seconds"] - speech) < 1.5
    assert trained.stats["labelled"] > 0.6
    start, end = data.loop
    assert end - start == 100  # a 4 s idle loop


def test_frames_are_chosen_by_the_viseme_wanted(
    video: TalkingVideo, trained: TrainedVideo, tmp_path: Path
) -> None:
    """Selection accuracy: the frame chosen for each wanted viseme really shows it
    (scored with the true, Piper-timed label of that frame of the video)."""
    path = tmp_path / "r-v.video"
    trained.data.save(path)
    avatar = VideoAvatar(VideoReplicaData.load(path), "r-v", "V")
    stream = avatar.create_stream(256, 256, seed=1)
    rng = np.random.default_rng(9)
    wanted: list[Viseme] = []
    while len(wanted) < 300:
        wanted += [VISEMES[int(rng.integers(len(VISEMES)))]] * int(rng.integers(2, 6))
    hits = 0
    gaps: dict[Viseme, list[float]] = {v: [] for v in VISEMES}
    replica = avatar.replica(256, 256)
    for i, v in enumerate(wanted[:300]):
        frame = stream.render_visemes(i / 25, viseme_weights(v))
        assert frame.shape == (256, 256, 3)
        hits += video.labels[stream.last_choice] == v
        gaps[v].append(float(replica.index.features[stream.last_choice, 0]))
    accuracy = hits / 300
    print(f"video replica from speech: the chosen frame shows the wanted viseme {accuracy:.0%}")
    assert accuracy >= 0.7, f"chose a frame of the wanted viseme {accuracy:.0%} of the time"
    mean = {v: float(np.mean(g)) for v, g in gaps.items()}
    assert mean["mbp"] < mean["relaxed"] < mean["aa"]
