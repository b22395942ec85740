"""Video replicas on a synthetic talking video made with the photo rig (known visemes)."""

from __future__ import annotations

import numpy as np
import pytest
from face_models import load_face_models
from numpy.typing import NDArray

from openreplica.plugins.avatar.facemesh import FaceModels
from openreplica.plugins.avatar.lipsync import viseme_weights
from openreplica.plugins.avatar.motion import BlinkSchedule, HeadMotion
from openreplica.plugins.avatar.photo_rig import PhotoRig
from openreplica.plugins.avatar.video_replica import VideoReplica
from openreplica.plugins.visemes import VISEMES, Viseme

SIZE = 256


def talking_video(
    models: FaceModels, photo: NDArray[np.uint8], frames: int, seed: int
) -> tuple[list[NDArray[np.uint8]], list[Viseme]]:
    """Frames of the rig speaking random visemes (held 2-5 frames), swaying and blinking."""
    rig = PhotoRig(photo, models, SIZE, SIZE)
    rng = np.random.default_rng(seed)
    motion, blinks = HeadMotion(seed, SIZE * 0.45), BlinkSchedule(seed)
    labels: list[Viseme] = []
    while len(labels) < frames:
        labels += [VISEMES[int(rng.integers(len(VISEMES)))]] * int(rng.integers(2, 6))
    labels = labels[:frames]
    video = [
        rig.render(viseme_weights(v), blinks.closure(i / 25), motion.pose(i / 25))
        for i, v in enumerate(labels)
    ]
    return video, labels


@pytest.fixture(scope="module")
def replica(astronaut: NDArray[np.uint8]) -> VideoReplica:
    models = load_face_models()
    video, labels = talking_video(models, astronaut, 150, seed=4)
    return VideoReplica.build(video, models, SIZE, SIZE, labels)


def test_frames_are_chosen_by_the_viseme_wanted(replica: VideoReplica) -> None:
    assert len(replica.frames) >= 140  # the mesh follows the face in nearly every frame
    stream = replica.create_stream(seed=1)
    rng = np.random.default_rng(9)
    wanted: list[Viseme] = []
    while len(wanted) < 200:
        wanted += [VISEMES[int(rng.integers(len(VISEMES)))]] * int(rng.integers(2, 6))
    hits = 0
    gaps: dict[Viseme, list[float]] = {v: [] for v in VISEMES}
    for i, v in enumerate(wanted[:200]):
        frame = stream.render_visemes(i / 25, viseme_weights(v))
        assert frame.shape == (SIZE, SIZE, 3)
        chosen = stream.last_choice
        hits += replica.index.labels[chosen] == v
        gaps[v].append(float(replica.index.features[chosen, 0]))
    accuracy = hits / 200
    print(f"video replica: the chosen frame shows the wanted viseme {accuracy:.0%} of the time")
    assert accuracy >= 0.6, f"chose a frame of the wanted viseme {accuracy:.0%} of the time"
    mean = {v: float(np.mean(g)) for v, g in gaps.items() if g}
    assert mean["mbp"] < mean["rest"] < mean["aa"]


def test_the_pasted_mouth_lands_on_the_loop_frame(replica: VideoReplica) -> None:
    models = load_face_models()
    base = replica.index.labels.index("rest")  # a loop frame with the mouth at rest
    wide = replica.choose(viseme_weights("aa"), None)
    closed = replica.choose(viseme_weights("mbp"), None)
    for mouth, more in ((wide, True), (closed, False)):
        mesh = models.landmarks(replica.compose(base, mouth))
        assert mesh is not None
        gap = float(np.linalg.norm(mesh.xy(14) - mesh.xy(13)))
        base_gap = float(np.linalg.norm(replica.points[base][14] - replica.points[base][13]))
        assert (gap > base_gap) if more else (gap < base_gap + 1.0)
        # The rest of the face stays where the loop frame has it (nose tip within 2 px).
        assert np.linalg.norm(mesh.xy(1) - replica.points[base][1]) < 2.0
