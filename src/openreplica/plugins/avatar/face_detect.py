"""Locating a face and its eyes in a portrait photo with OpenCV's Haar cascades.

The cascades ship inside `opencv-python-headless<5` (`cv2.data.haarcascades`); OpenCV 5
dropped them. Detection runs once per portrait, so the cascades are loaded per call
rather than kept in module state. When nothing is found we fall back to the layout of
a typical head-and-shoulders photo, so any image still makes a working avatar.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

__all__ = ["FaceRegion", "detect_eyes", "detect_face", "load_rgb"]

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class FaceRegion:
    """A face box in source-image pixels; `found` is False for the centre fallback."""

    x: float
    y: float
    w: float
    h: float
    found: bool

    @property
    def centre(self) -> Point:
        return (self.x + self.w / 2.0, self.y + self.h / 2.0)


def load_rgb(source: str | Path | NDArray[np.generic]) -> NDArray[np.uint8]:
    """An image file (JPEG, PNG, ...) or array as contiguous uint8 RGB (H, W, 3).

    Arrays may be grey (H, W), RGB or RGBA; float arrays are taken as 0..1.
    """
    arr: NDArray[np.generic]
    if isinstance(source, str | Path):
        bgr = cv2.imread(str(source), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"cannot read image {source}")
        arr = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    else:
        arr = np.asarray(source)
    if arr.dtype != np.uint8:
        scale = 255.0 if arr.dtype.kind == "f" else 1.0
        arr = np.clip(arr.astype(np.float64) * scale, 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        arr = np.asarray(cv2.cvtColor(np.asarray(arr, np.uint8), cv2.COLOR_GRAY2RGB))
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[..., :3]
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"expected an RGB image, got shape {arr.shape}")
    if min(arr.shape[:2]) < 32:
        raise ValueError(f"image too small for a portrait: {arr.shape[1]}x{arr.shape[0]}")
    return np.ascontiguousarray(arr, dtype=np.uint8)


def _cascade(name: str) -> cv2.CascadeClassifier:
    path = Path(cv2.data.haarcascades) / name  # type: ignore[attr-defined]
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise RuntimeError(f"OpenCV Haar cascade {path} missing (needs opencv-python-headless<5)")
    return cascade


def _grey(rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
    return np.asarray(cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)), np.uint8)


def detect_face(rgb: NDArray[np.uint8]) -> FaceRegion:
    """The largest frontal face, or a centred guess when there is none."""
    h, w = rgb.shape[:2]
    side = min(h, w)
    faces = _cascade("haarcascade_frontalface_default.xml").detectMultiScale(
        _grey(rgb), scaleFactor=1.1, minNeighbors=5, minSize=(max(24, side // 10),) * 2
    )
    if len(faces) > 0:
        x, y, fw, fh = max(faces, key=lambda f: int(f[2]) * int(f[3]))
        return FaceRegion(float(x), float(y), float(fw), float(fh), True)
    # Head-and-shoulders framing: the face sits a little above the centre.
    fw = fh = 0.4 * side
    return FaceRegion(w / 2.0 - fw / 2.0, h * 0.42 - fh / 2.0, fw, fh, False)


def detect_eyes(rgb: NDArray[np.uint8], face: FaceRegion) -> tuple[Point, Point]:
    """Centres of the (image-left, image-right) eyes; typical positions when not found."""
    cx, cy = face.centre
    default = ((cx - 0.2 * face.w, cy - 0.1 * face.h), (cx + 0.2 * face.w, cy - 0.1 * face.h))
    if not face.found:
        return default
    x0, y0 = int(face.x), int(face.y)
    x1, y1 = int(face.x + face.w), int(face.y + face.h * 0.6)
    band = rgb[max(0, y0) : y1, max(0, x0) : x1]
    if band.size == 0:
        return default
    hits = _cascade("haarcascade_eye.xml").detectMultiScale(
        _grey(band), scaleFactor=1.1, minNeighbors=5, minSize=(max(8, int(face.w * 0.12)),) * 2
    )
    centres = [(float(x0 + ex + ew / 2.0), float(y0 + ey + eh / 2.0)) for ex, ey, ew, eh in hits]
    left = [c for c in centres if c[0] < cx]
    right = [c for c in centres if c[0] >= cx]
    if not left or not right:
        return default
    # The eye nearest the expected spot on each side; eyebrows and nostrils are misfires.
    lx = min(left, key=lambda c: abs(c[1] - default[0][1]) + abs(c[0] - default[0][0]))
    rx = min(right, key=lambda c: abs(c[1] - default[1][1]) + abs(c[0] - default[1][0]))
    if abs(lx[1] - rx[1]) > 0.15 * face.h:
        return default
    return (lx, rx)
