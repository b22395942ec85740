"""The face models pulled from the mediapipe wheel: pull, verify, detect, mesh, segment."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from face_models import load_face_models, require_face_models
from numpy.typing import NDArray

from openreplica.cli import main
from openreplica.plugins.avatar.facemesh import FACE_MODEL_FILES, FaceModels
from openreplica.plugins.avatar.facemesh.files import LICENCE_FILE

# Mesh indices: inner upper/lower lip, mouth corners, eye lids (subject's right eye).
UPPER_LIP, LOWER_LIP, CORNER_R, CORNER_L = 13, 14, 61, 291
LID_UP, LID_DOWN = 159, 145


@pytest.fixture(scope="module")
def models() -> FaceModels:
    return load_face_models()


def fake_wheel(tmp: Path, corrupt: str | None = None) -> Path:
    """A wheel holding the cached model files at their mediapipe paths."""
    cache = require_face_models()
    notice = (cache / LICENCE_FILE).read_text("utf-8")
    licence = notice[notice.index("                                 Apache License") :]
    wheel = tmp / "mediapipe-0.10.14-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for spec in FACE_MODEL_FILES:
            data = (cache / spec.name).read_bytes()
            z.writestr(spec.member, data + b"x" if spec.name == corrupt else data)
        z.writestr("mediapipe-0.10.14.dist-info/LICENSE", licence)
    return wheel


def test_pull_from_a_wheel_verifies_and_keeps_the_licence(tmp_path: Path) -> None:
    dest = tmp_path / "face"
    assert (
        main(["models", "pull", "face", "--wheel", str(fake_wheel(tmp_path)), "--dir", str(dest)])
        == 0
    )
    names = sorted(p.name for p in dest.iterdir())
    assert names == sorted([LICENCE_FILE, *(s.name for s in FACE_MODEL_FILES)])
    assert "Apache License" in (dest / LICENCE_FILE).read_text("utf-8")
    FaceModels.load(dest)  # loads


def test_pull_refuses_a_file_with_the_wrong_digest_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "face"
    wheel = fake_wheel(tmp_path, corrupt="face_landmark.tflite")
    assert main(["models", "pull", "face", "--wheel", str(wheel), "--dir", str(dest)]) == 1
    assert "face_landmark.tflite" in capsys.readouterr().err
    assert list(dest.iterdir()) == []


def test_detects_one_face_on_the_astronaut_and_none_on_coffee(
    models: FaceModels, astronaut: NDArray[np.uint8], coffee: NDArray[np.uint8]
) -> None:
    faces = models.detector.detect(astronaut)
    assert len(faces) == 1
    x0, y0, x1, y1 = faces[0].box
    assert 150 < (x0 + x1) / 2 < 300 and 60 < (y0 + y1) / 2 < 180
    assert models.detector.detect(coffee) == []


def test_mesh_lands_on_the_astronauts_features(
    models: FaceModels, astronaut: NDArray[np.uint8]
) -> None:
    mesh = models.landmarks(astronaut)
    assert mesh is not None and mesh.presence > 0.9
    face = models.detector.detect(astronaut)[0]
    x0, _, x1, _ = face.box
    pts = mesh.points[:, :2]
    assert (pts[:, 0] > x0 - 20).all() and (pts[:, 0] < x1 + 20).all()
    # Mouth below the eyes, corners either side of the lips, lids in order.
    assert mesh.xy(UPPER_LIP)[1] > mesh.xy(LID_DOWN)[1] + 20
    assert mesh.xy(CORNER_R)[0] < mesh.xy(UPPER_LIP)[0] < mesh.xy(CORNER_L)[0]
    assert mesh.xy(LID_UP)[1] < mesh.xy(LID_DOWN)[1]


def test_opencv_runtime_matches_litert(astronaut: NDArray[np.uint8]) -> None:
    """OpenCV runs the models by default; LiteRT (dev extra) is the reference."""
    directory = require_face_models()
    try:
        reference = FaceModels.load(directory, "litert")
    except RuntimeError as exc:
        pytest.fail(f"{exc} (the dev extra installs it)")
    ours = FaceModels.load(directory, "opencv")
    a, b = ours.landmarks(astronaut), reference.landmarks(astronaut)
    assert a is not None and b is not None
    assert np.abs(a.points[:, :2] - b.points[:, :2]).max() < 0.05
    ma, mb = ours.segmenter.mask(astronaut), reference.segmenter.mask(astronaut)
    assert np.abs(ma - mb).max() < 1e-3


def test_segmentation_separates_the_astronaut_from_the_backdrop(
    models: FaceModels, astronaut: NDArray[np.uint8]
) -> None:
    mask = models.segmenter.mask(astronaut)
    assert mask.shape == astronaut.shape[:2]
    assert mask[120:160, 200:250].mean() > 0.9  # her face
    assert mask[0:40, 440:512].mean() < 0.1  # the backdrop, top right
