"""The offline face detector: OpenCV Haar cascades that ship in `opencv-python-headless<5`.

Per frame (downscaled to `max_side` first, about 10-20 ms at 320 px on one core):
- frontal faces (`haarcascade_frontalface_default`): someone facing the camera;
- when there is none, profile faces (`haarcascade_profileface`, on the frame and its
  mirror image, since the cascade only knows one side): someone in view looking aside;
- lighting from the grey image: mean brightness and contrast (standard deviation).

Not thread-safe: one detector per conversation, used from one worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from openreplica.plugins.base import PerceptionUnavailable
from openreplica.plugins.perception.base import Image

__all__ = ["BRIGHT_ABOVE", "DARK_BELOW", "Detection", "Face", "FaceDetector", "lighting_of"]

#: mean grey level (0-255) under which a frame is "dark", over which it is "bright"
DARK_BELOW = 60.0
BRIGHT_ABOVE = 200.0
#: contrast (grey standard deviation) under which a frame is flat / washed out
LOW_CONTRAST_BELOW = 20.0

Facing = Literal["camera", "left", "right"]
Lighting = Literal["dark", "ok", "bright"]


@dataclass(frozen=True, slots=True)
class Face:
    #: box in the (downscaled) frame, as fractions of its width/height
    x: float
    y: float
    w: float
    h: float
    #: where the person looks: at the camera (frontal face) or aside (profile), from the
    #: viewer's side of the screen
    facing: Facing

    @property
    def position(self) -> Literal["left", "centre", "right"]:
        """Where the face is in the frame, from the viewer's side."""
        centre = self.x + self.w / 2
        return "left" if centre < 0.38 else "right" if centre > 0.62 else "centre"


@dataclass(frozen=True, slots=True)
class Detection:
    faces: tuple[Face, ...]
    brightness: float
    contrast: float

    @property
    def lighting(self) -> Lighting:
        return lighting_of(self.brightness)

    @property
    def low_contrast(self) -> bool:
        return self.contrast < LOW_CONTRAST_BELOW

    @property
    def person_in_view(self) -> bool:
        return bool(self.faces)


def lighting_of(brightness: float) -> Lighting:
    if brightness < DARK_BELOW:
        return "dark"
    if brightness > BRIGHT_ABOVE:
        return "bright"
    return "ok"


class FaceDetector:
    def __init__(self, max_side: int = 320, profiles: bool = True) -> None:
        self.max_side = max_side
        self.profiles = profiles
        self._frontal = _cascade("haarcascade_frontalface_default.xml")
        self._profile = _cascade("haarcascade_profileface.xml") if profiles else None

    def detect(self, image: Image) -> Detection:
        grey = _grey(image, self.max_side)
        brightness = float(grey.mean())
        contrast = float(grey.std())
        height, width = grey.shape
        # Histogram equalisation helps the cascades in dim rooms; statistics use the raw grey.
        eq = cv2.equalizeHist(grey)
        min_size = (max(20, width // 16),) * 2
        faces = [
            _face(box, width, height, "camera")
            for box in _boxes(self._frontal.detectMultiScale(eq, 1.15, 5, minSize=min_size))
        ]
        if not faces and self._profile is not None:
            # The profile cascade knows one side only: on the frame it finds people looking
            # to the viewer's left, on the mirror image those looking to the right
            # (skimage's `camera()` photographer, looking right, is found mirrored).
            for box in _boxes(self._profile.detectMultiScale(eq, 1.15, 6, minSize=min_size)):
                faces.append(_face(box, width, height, "left"))
            mirrored = cv2.flip(eq, 1)
            for x, y, w, h in _boxes(
                self._profile.detectMultiScale(mirrored, 1.15, 6, minSize=min_size)
            ):
                faces.append(_face((width - x - w, y, w, h), width, height, "right"))
        return Detection(tuple(faces), brightness, contrast)


def _cascade(name: str) -> cv2.CascadeClassifier:
    try:
        path = str(cv2.data.haarcascades) + name  # type: ignore[attr-defined]
    except AttributeError as exc:  # OpenCV 5 dropped the cascades
        raise PerceptionUnavailable(
            "this OpenCV has no Haar cascades (cv2.data.haarcascades): install "
            "opencv-python-headless<5"
        ) from exc
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise PerceptionUnavailable(f"cannot load the OpenCV cascade {path}")
    return cascade


def _grey(image: Image, max_side: int) -> Image:
    grey: Image
    if image.ndim == 2:
        grey = image
    else:
        grey = np.asarray(
            cv2.cvtColor(np.ascontiguousarray(image[..., :3]), cv2.COLOR_RGB2GRAY), np.uint8
        )
    height, width = grey.shape[:2]
    scale = max_side / max(height, width)
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        grey = np.asarray(cv2.resize(grey, size, interpolation=cv2.INTER_AREA), np.uint8)
    return np.ascontiguousarray(grey, dtype=np.uint8)


def _boxes(found: object) -> list[tuple[int, int, int, int]]:
    return [tuple(int(v) for v in box) for box in np.asarray(found).reshape(-1, 4)]  # type: ignore[misc]


def _face(box: tuple[int, int, int, int], width: int, height: int, facing: Facing) -> Face:
    x, y, w, h = box
    return Face(x / width, y / height, w / width, h / height, facing)
