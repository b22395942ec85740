"""The photo rig on the astronaut: exact rest frame, still background, mouth shapes the
face mesh can read back, and blinks."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from face_models import load_face_models
from numpy.typing import NDArray

from openreplica.plugins.avatar.facemesh import FaceModels
from openreplica.plugins.avatar.lipsync import viseme_weights
from openreplica.plugins.avatar.motion import HeadMotion, HeadPose
from openreplica.plugins.avatar.photo_rig import NoFaceFound, PhotoRig, frame_photo
from openreplica.plugins.visemes import VISEMES

STILL = HeadPose(0.0, 0.0, 0.0)


@pytest.fixture(scope="module")
def models() -> FaceModels:
    return load_face_models()


@pytest.fixture(scope="module")
def rig(models: FaceModels, astronaut: NDArray[np.uint8]) -> PhotoRig:
    return PhotoRig(astronaut, models, 384, 384)


def gap_and_width(models: FaceModels, frame: NDArray[np.uint8]) -> tuple[float, float]:
    mesh = models.landmarks(frame)
    assert mesh is not None
    gap = float(np.linalg.norm(mesh.xy(14) - mesh.xy(13)))
    width = float(np.linalg.norm(mesh.xy(291) - mesh.xy(61)))
    return gap, width


def eye_opening(models: FaceModels, frame: NDArray[np.uint8]) -> float:
    mesh = models.landmarks(frame)
    assert mesh is not None
    return float(
        np.linalg.norm(mesh.xy(145) - mesh.xy(159)) + np.linalg.norm(mesh.xy(374) - mesh.xy(386))
    )


def test_the_rest_frame_is_the_framed_photo(
    rig: PhotoRig, models: FaceModels, astronaut: NDArray[np.uint8]
) -> None:
    mesh = models.landmarks(astronaut)
    assert mesh is not None
    framed, _ = frame_photo(astronaut, mesh, 384, 384)
    assert np.array_equal(rig.render(viseme_weights("rest"), 0.0, STILL), framed)
    # The face fills about 40 % of the frame height, centred.
    face_h = np.linalg.norm(rig.landmarks[152] - rig.landmarks[10])
    assert 0.35 * 384 < face_h < 0.5 * 384
    assert abs(rig.landmarks[1][0] - 192) < 40


def test_rendering_is_pure(rig: PhotoRig) -> None:
    w = 0.6 * viseme_weights("aa") + 0.4 * viseme_weights("ee")
    pose = HeadPose(1.5, -0.7, 0.9)
    assert np.array_equal(rig.render(w, 0.4, pose), rig.render(w, 0.4, pose))


def test_background_far_from_the_person_never_changes_while_talking(rig: PhotoRig) -> None:
    motion = HeadMotion(seed=3, scale=384 * 0.45)
    person = (rig.person_alpha > 0).astype(np.uint8)
    near = cv2.dilate(person, np.ones((25, 25), np.uint8)) > 0  # 12 px around the person
    far = ~near
    assert far.mean() > 0.2, "the astronaut photo should leave some background"
    rng = np.random.default_rng(0)
    for i in range(30):
        w = rng.dirichlet(np.ones(len(VISEMES)))
        frame = rig.render(w, float(i % 3) / 2, motion.pose(i / 25.0))
        assert np.array_equal(frame[far], rig.base[far])


def test_the_face_mesh_reads_back_each_visemes_mouth(rig: PhotoRig, models: FaceModels) -> None:
    shapes = {v: gap_and_width(models, rig.render(viseme_weights(v), 0.0, STILL)) for v in VISEMES}
    gap = {v: g for v, (g, _) in shapes.items()}
    width = {v: w for v, (_, w) in shapes.items()}
    assert gap["mbp"] < gap["rest"] < gap["relaxed"] < gap["aa"]
    assert gap["mbp"] < 0.8 * gap["rest"] and gap["aa"] > 1.6 * gap["rest"]
    assert width["oo"] < width["rest"] < width["ee"]
    assert gap["fv"] < gap["aa"] and gap["oo"] > gap["mbp"]


def dark_eye_pixels(rig: PhotoRig, frame: NDArray[np.uint8]) -> int:
    """Iris, pupil and lash pixels inside the eyes' rest outlines."""
    from openreplica.plugins.avatar.face_shapes import LOWER_LID, UPPER_LID

    mask = np.zeros(frame.shape[:2], np.uint8)
    for e in range(2):
        upper = rig.landmarks[list(UPPER_LID[7 * e : 7 * e + 7])]
        lower = rig.landmarks[list(LOWER_LID[7 * e : 7 * e + 7])]
        cv2.fillPoly(mask, [np.round(np.vstack([upper, lower[::-1]])).astype(np.int32)], 1)
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    return int(((grey < 90) & (mask > 0)).sum())


def test_a_blink_closes_the_eyes(rig: PhotoRig, models: FaceModels) -> None:
    rest = viseme_weights("rest")
    frames = [rig.render(rest, b, STILL) for b in (0.0, 0.5, 1.0)]
    dark = [dark_eye_pixels(rig, f) for f in frames]
    assert dark[0] > 40, "the open eyes should show their irises"
    assert dark[2] < 0.1 * dark[0] and dark[2] < dark[1] < dark[0]
    # The face mesh sees the lids come together too (it under-reads shut eyes).
    opening = [eye_opening(models, f) for f in frames]
    assert opening[2] < 0.8 * opening[0]


def test_a_photo_without_a_face_is_refused(models: FaceModels, coffee: NDArray[np.uint8]) -> None:
    with pytest.raises(NoFaceFound):
        PhotoRig(coffee, models, 384, 384)


def test_catalog_makes_photo_replicas_with_the_face_models_and_falls_back_without(
    tmp_path: Path, models: FaceModels, astronaut: NDArray[np.uint8], coffee: NDArray[np.uint8]
) -> None:
    from openreplica.plugins.avatar import AvatarCatalog, PortraitAvatar
    from openreplica.plugins.avatar.photo import PhotoAvatar, PhotoStream

    cv2.imwrite(str(tmp_path / "r-astro.png"), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(tmp_path / "r-coffee.png"), cv2.cvtColor(coffee, cv2.COLOR_RGB2BGR))
    catalog = AvatarCatalog(tmp_path, face_models=models)
    astro = catalog.get("r-astro")
    assert isinstance(astro, PhotoAvatar)
    stream = astro.create_stream(256, 256, seed=2)
    assert isinstance(stream, PhotoStream)
    frame = stream.render_visemes(0.0, viseme_weights("aa"))
    assert frame.shape == (256, 256, 3) and frame.dtype == np.uint8
    assert isinstance(catalog.get("r-coffee"), PortraitAvatar)  # no face: the old mode
    assert isinstance(AvatarCatalog(tmp_path).get("r-astro"), PortraitAvatar)
