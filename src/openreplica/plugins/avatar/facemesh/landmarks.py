"""The 468-point face mesh around a detected face.

As MediaPipe does: a square region 1.5x the detector's box, turned so the eyes are
level, is cut out at 192x192 ([0, 1] input); the model returns 468 (x, y, z) points in
that crop plus a face-presence logit, and the points are mapped back to image pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from .detect import FaceDetection
from .runner import TFLiteModel

__all__ = ["FaceMesh", "MeshLandmarks"]

_SIZE = 192
_SCALE = 1.5

F64 = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class MeshLandmarks:
    """468 points, (x, y) in image pixels and z in the same units (relative depth)."""

    points: F64  # (468, 3)
    #: probability that the crop held a face
    presence: float

    def xy(self, index: int) -> F64:
        return self.points[index, :2]


class FaceMesh:
    def __init__(self, model: TFLiteModel) -> None:
        self._model = model

    def landmarks(self, rgb: NDArray[np.uint8], face: FaceDetection) -> MeshLandmarks:
        right_eye, left_eye = face.keypoints[0], face.keypoints[1]
        angle = math.atan2(left_eye[1] - right_eye[1], left_eye[0] - right_eye[0])
        x0, y0, x1, y1 = face.box
        cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
        side = max(x1 - x0, y1 - y0) * _SCALE
        # crop -> image: rotate by `angle` about the face centre, scale side/_SIZE
        c, s = math.cos(angle) * side / _SIZE, math.sin(angle) * side / _SIZE
        h = _SIZE / 2.0
        to_image = np.array([[c, -s, cx - c * h + s * h], [s, c, cy - s * h - c * h]])
        crop = cv2.warpAffine(
            rgb,
            to_image,
            (_SIZE, _SIZE),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
        )
        out = self._model.run((crop.astype(np.float32) / 255.0)[None])
        flat = next(v for v in out.values() if v.size == 468 * 3)
        flag = next(v for v in out.values() if v.size == 1)
        pts = flat.reshape(468, 3).astype(np.float64)
        xy = pts[:, :2] @ to_image[:, :2].T + to_image[:, 2]
        z = pts[:, 2:] * side / _SIZE
        presence = 1.0 / (1.0 + math.exp(-float(np.clip(flag.reshape(()), -100, 100))))
        return MeshLandmarks(np.hstack([xy, z]), presence)
