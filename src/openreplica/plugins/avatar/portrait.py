"""A replica made from a user's portrait photo: `PortraitAvatar.from_image(...)`.

Portrait format: a front-facing photo (JPEG, PNG or an RGB array) with the face roughly
centred, eyes open and mouth closed, ideally at least 256 px on the short side and with
the face 20-50 % of the image width. The face is found with OpenCV's Haar frontal-face
cascade; without a face the centre of the image is used, so any picture still works.

Per stream the photo is framed once (face centred, about 40 % of the frame height) onto
a canvas with a small margin; per frame the mouth and lids are edited in small regions
and the canvas is warped by the head pose (gentle sway and roll about the neck).
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from .character import DEFAULT_HEIGHT, DEFAULT_WIDTH
from .draw import Image
from .face_detect import FaceRegion, detect_eyes, detect_face, load_rgb
from .geometry import Box
from .motion import BlinkSchedule, HeadMotion
from .photo_parts import PhotoEyelids, PhotoMouth

__all__ = ["PortraitAvatar", "PortraitStream"]

_FACE_FRACTION = 0.4  # face box height / frame height
_MOTION = 0.45  # photos look rubbery if they move as much as a cartoon
_MAX_ROLL_DEG = 2.6 * _MOTION


class PortraitStream:
    """One conversation's renderer for a portrait avatar."""

    def __init__(self, avatar: PortraitAvatar, width: int, height: int, seed: int = 0) -> None:
        if width < 32 or height < 32:
            raise ValueError(f"avatar frame too small: {width}x{height}")
        self.width = width
        self.height = height
        face = avatar.face
        self._motion = HeadMotion(seed, float(min(width, height)), _MOTION)
        self._blinks = BlinkSchedule(seed)
        pad = math.ceil(self._motion.max_offset() + height * math.radians(_MAX_ROLL_DEG) + 2)
        self._pad = pad

        # Frame the photo: scale so the face is a set fraction of the height (but always
        # cover the canvas), then centre the face as far as the photo's edges allow.
        src = avatar.image
        cw, ch = width + 2 * pad, height + 2 * pad
        k = max(_FACE_FRACTION * height / face.h, cw / src.shape[1], ch / src.shape[0])
        fx, fy = face.centre
        ox = min(0.0, max(cw - k * src.shape[1], pad + width / 2.0 - k * fx))
        oy = min(0.0, max(ch - k * src.shape[0], pad + height * 0.45 - k * fy))
        to_canvas = np.array([[k, 0.0, ox], [0.0, k, oy]])
        interp = cv2.INTER_AREA if k < 1.0 else cv2.INTER_LINEAR
        scaled = cv2.resize(src, None, fx=k, fy=k, interpolation=interp)
        shift = np.array([[1.0, 0.0, ox], [0.0, 1.0, oy]])
        self._base: Image = np.asarray(
            cv2.warpAffine(
                scaled, shift, (cw, ch), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            ),
            np.uint8,
        )

        def canvas(p: tuple[float, float]) -> tuple[float, float]:
            q = to_canvas @ np.array([p[0], p[1], 1.0])
            return (float(q[0]), float(q[1]))

        fcx, fcy = canvas(face.centre)
        fw, fh = face.w * k, face.h * k
        self._pivot = (fcx, fcy + 0.9 * fh)
        eyes = (canvas(avatar.eyes[0]), canvas(avatar.eyes[1]))
        self._mouth = PhotoMouth(self._base.shape, (fcx, fcy + 0.3 * fh), 0.19 * fw)
        self._lids = PhotoEyelids(self._base, eyes, 0.1 * fw)

        grow = self._motion.max_offset() + 0.5 * height * math.radians(_MAX_ROLL_DEG) + 2
        self.face_box: Box = self._frame_box(
            (fcx - fw / 2, fcy - fh / 2, fcx + fw / 2, fcy + fh / 2), 0.0
        )
        self.mouth_box: Box = self._frame_box(self._mouth.box, grow)
        self.eye_box: Box = self._frame_box(self._lids.box, grow)

    def _frame_box(self, box: tuple[float, float, float, float], grow: float) -> Box:
        p = self._pad
        return (
            max(0, math.floor(box[0] - p - grow)),
            max(0, math.floor(box[1] - p - grow)),
            min(self.width, math.ceil(box[2] - p + grow)),
            min(self.height, math.ceil(box[3] - p + grow)),
        )

    def eyelid_closure(self, t: float) -> float:
        return self._blinks.closure(t)

    def render(self, t: float, mouth_open: float) -> Image:
        work = self._base.copy()
        self._mouth.apply(work, float(mouth_open))
        self._lids.apply(work, self._blinks.closure(t))
        pose = self._motion.pose(t)
        a = math.radians(pose.roll_deg)
        c, s = math.cos(a), math.sin(a)
        px, py = self._pivot
        p = self._pad
        m = np.array(
            [
                [c, -s, px - c * px + s * py + pose.dx - p],
                [s, c, py - s * px - c * py + pose.dy - p],
            ]
        )
        out = cv2.warpAffine(
            work,
            m,
            (self.width, self.height),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        return np.asarray(out, np.uint8)


class PortraitAvatar:
    """An `Avatar` animated from one photo. Detection runs once, at construction."""

    kind = "portrait"

    def __init__(
        self, image: NDArray[np.uint8], replica_id: str = "r-portrait", name: str = "Portrait"
    ) -> None:
        self.replica_id = replica_id
        self.name = name
        self.image = image
        self.face: FaceRegion = detect_face(image)
        self.eyes = detect_eyes(image, self.face)

    @classmethod
    def from_image(
        cls,
        source: str | Path | NDArray[np.generic],
        replica_id: str = "r-portrait",
        name: str = "Portrait",
    ) -> PortraitAvatar:
        """From an image file path or an array (grey, RGB or RGBA). See the module doc."""
        return cls(load_rgb(source), replica_id, name)

    @property
    def face_found(self) -> bool:
        return self.face.found

    def create_stream(
        self, width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT, seed: int = 0
    ) -> PortraitStream:
        return PortraitStream(self, width, height, seed)

    def __repr__(self) -> str:
        return (
            f"PortraitAvatar({self.replica_id!r}, name={self.name!r}, face_found={self.face_found})"
        )
