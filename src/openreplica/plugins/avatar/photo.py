"""`PhotoAvatar`: a replica that looks like the person in a photo, driven by visemes.

Built on the photo rig (`photo_rig.py`) and the face models (`facemesh/`). The photo is
checked once (`check_photo`): exactly one face, big enough to animate. Rigs are built
per frame size on first use and shared, read-only, by every stream of that size; a
stream adds only its own blinks and head sway (seeded, pure functions of `t`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .character import DEFAULT_HEIGHT, DEFAULT_WIDTH
from .face_detect import load_rgb
from .facemesh import FaceDetection, FaceModels
from .lipsync import viseme_weights
from .motion import BlinkSchedule, HeadMotion
from .photo_rig import NoFaceFound, PhotoRig

__all__ = [
    "MIN_FACE_PX",
    "FaceTooSmall",
    "NoFaceFound",
    "PhotoAvatar",
    "PhotoStream",
    "SeveralFaces",
    "check_photo",
]

#: narrower faces (detector box, source pixels) carry too little detail to animate
MIN_FACE_PX = 64
_MOTION = 0.45  # photos look rubbery if they move as much as a cartoon


class SeveralFaces(ValueError):
    """More than one face in the photo: which one should talk?"""


class FaceTooSmall(ValueError):
    """The face is too small in the photo to animate well."""


def check_photo(rgb: NDArray[np.uint8], models: FaceModels) -> FaceDetection:
    """The photo's one face; raises NoFaceFound, SeveralFaces or FaceTooSmall."""
    faces = models.detector.detect(rgb)
    if not faces:
        raise NoFaceFound("no face found in the photo")
    if len(faces) > 1:
        raise SeveralFaces(f"{len(faces)} faces in the photo; use a photo of one person")
    face = faces[0]
    if face.width < MIN_FACE_PX:
        raise FaceTooSmall(
            f"the face is {face.width:.0f} px wide; it needs at least {MIN_FACE_PX} px "
            "(crop closer or use a larger photo)"
        )
    return face


class PhotoStream:
    """One conversation's view of a photo replica."""

    def __init__(self, rig: PhotoRig, seed: int) -> None:
        self.width, self.height = rig.width, rig.height
        self.rig = rig
        self._motion = HeadMotion(seed, float(min(rig.width, rig.height)), _MOTION)
        self._blinks = BlinkSchedule(seed)

    def eyelid_closure(self, t: float) -> float:
        return self._blinks.closure(t)

    def render_visemes(self, t: float, visemes: NDArray[np.float64]) -> NDArray[np.uint8]:
        return self.rig.render(visemes, self._blinks.closure(t), self._motion.pose(t))

    def render(self, t: float, mouth_open: float) -> NDArray[np.uint8]:
        """Audio-level driven (speech without visemes): open toward "aa"."""
        m = min(1.0, max(0.0, float(mouth_open)))
        w = (1.0 - m) * viseme_weights("rest") + m * viseme_weights("aa")
        return self.render_visemes(t, w)


class PhotoAvatar:
    """An `Avatar` from one photo of a person. Raises NoFaceFound, SeveralFaces or
    FaceTooSmall when the photo cannot make one."""

    kind = "portrait"

    def __init__(
        self,
        image: NDArray[np.uint8],
        models: FaceModels,
        replica_id: str = "r-photo",
        name: str = "Photo",
    ) -> None:
        self.replica_id = replica_id
        self.name = name
        self.image = image
        self.face = check_photo(image, models)
        self._models = models
        self._rigs: dict[tuple[int, int], PhotoRig] = {}

    @classmethod
    def from_image(
        cls,
        source: str | Path | NDArray[np.generic],
        models: FaceModels,
        replica_id: str = "r-photo",
        name: str = "Photo",
    ) -> PhotoAvatar:
        return cls(load_rgb(source), models, replica_id, name)

    def rig(self, width: int, height: int) -> PhotoRig:
        rig = self._rigs.get((width, height))
        if rig is None:
            rig = PhotoRig(self.image, self._models, width, height)
            if len(self._rigs) < 4:
                self._rigs[(width, height)] = rig
        return rig

    def create_stream(
        self, width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT, seed: int = 0
    ) -> PhotoStream:
        return PhotoStream(self.rig(width, height), seed)

    def __repr__(self) -> str:
        return f"PhotoAvatar({self.replica_id!r}, name={self.name!r})"
