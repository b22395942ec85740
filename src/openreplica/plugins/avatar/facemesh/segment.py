"""Selfie segmentation: how likely each pixel is to be the person (0..1)."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from .runner import TFLiteModel

__all__ = ["PersonSegmenter"]

_SIZE = 256


class PersonSegmenter:
    def __init__(self, model: TFLiteModel) -> None:
        self._model = model

    def mask(self, rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
        """(H, W) float32 person probability at the image's own size."""
        h, w = rgb.shape[:2]
        x = cv2.resize(rgb, (_SIZE, _SIZE), interpolation=cv2.INTER_AREA).astype(np.float32)
        out = next(iter(self._model.run((x / 255.0)[None]).values()))
        prob = out.reshape(_SIZE, _SIZE)
        return np.asarray(cv2.resize(prob, (w, h), interpolation=cv2.INTER_LINEAR), np.float32)
