"""BlazeFace short-range: faces and six keypoints in an RGB image.

The model sees the image letterboxed into 128x128 in [-1, 1] and scores 896 SSD anchors
(16x16 cells x 2 at stride 8, 8x8 cells x 6 at stride 16). Boxes are decoded around
each anchor, kept above `min_score`, and overlapping ones merged by score-weighted
averaging as MediaPipe does (steadier than plain non-maximum suppression).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from .runner import TFLiteModel

__all__ = ["FaceDetection", "FaceDetector"]

_SIZE = 128
F64 = NDArray[np.float64]


def _anchors() -> F64:
    rows = []
    for stride, per_cell in ((8, 2), (16, 6)):
        cells = _SIZE // stride
        for y in range(cells):
            for x in range(cells):
                rows += [((x + 0.5) / cells, (y + 0.5) / cells)] * per_cell
    return np.array(rows, np.float64)


@dataclass(frozen=True, slots=True)
class FaceDetection:
    """A face in image pixels. Keypoints: the subject's right eye, left eye, nose tip,
    mouth centre, right ear, left ear (so keypoint 0 is on the image's left)."""

    score: float
    box: tuple[float, float, float, float]  # x0, y0, x1, y1
    keypoints: F64  # (6, 2)

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]


class FaceDetector:
    def __init__(self, model: TFLiteModel, min_score: float = 0.5) -> None:
        self._model = model
        self._anchors = _anchors()
        self.min_score = min_score

    def detect(self, rgb: NDArray[np.uint8]) -> list[FaceDetection]:
        """Faces, best first."""
        h, w = rgb.shape[:2]
        k = _SIZE / max(h, w)
        nw, nh = max(1, round(w * k)), max(1, round(h * k))
        px, py = (_SIZE - nw) // 2, (_SIZE - nh) // 2
        box = np.zeros((_SIZE, _SIZE, 3), np.float32)
        box[py : py + nh, px : px + nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
        out = self._model.run((box / 127.5 - 1.0)[None])
        raw = out["regressors"][0].astype(np.float64)
        logits = np.clip(out["classificators"][0, :, 0].astype(np.float64), -100.0, 100.0)
        scores = 1.0 / (1.0 + np.exp(-logits))
        keep = np.nonzero(scores >= self.min_score)[0]
        if keep.size == 0:
            return []
        a = self._anchors[keep]
        r = raw[keep] / _SIZE
        cx, cy = r[:, 0] + a[:, 0], r[:, 1] + a[:, 1]
        boxes = np.stack(
            [cx - r[:, 2] / 2, cy - r[:, 3] / 2, cx + r[:, 2] / 2, cy + r[:, 3] / 2], 1
        )
        kps = r[:, 4:16].reshape(-1, 6, 2) + a[:, None, :]

        def to_image(v: F64) -> F64:  # letterbox units -> image pixels
            return np.asarray((v * _SIZE - np.array([px, py])) / k, np.float64)

        faces = []
        for group in _overlap_groups(boxes, scores[keep], 0.3):
            weight = scores[keep][group][:, None]
            b = (boxes[group] * weight).sum(0) / weight.sum()
            kp = (kps[group] * weight[:, :, None]).sum(0) / weight.sum()
            corners = to_image(b.reshape(2, 2)).reshape(4)
            box_px = (float(corners[0]), float(corners[1]), float(corners[2]), float(corners[3]))
            faces.append(FaceDetection(float(scores[keep][group[0]]), box_px, to_image(kp)))
        return faces


def _overlap_groups(boxes: F64, scores: F64, iou_min: float) -> list[NDArray[np.intp]]:
    """Indices grouped around each remaining best box (its own index first)."""
    order = np.argsort(-scores)
    groups = []
    while order.size:
        best = boxes[order[0]]
        rest = boxes[order]
        ix = np.clip(np.minimum(best[2], rest[:, 2]) - np.maximum(best[0], rest[:, 0]), 0, None)
        iy = np.clip(np.minimum(best[3], rest[:, 3]) - np.maximum(best[1], rest[:, 1]), 0, None)
        inter = ix * iy
        area = (rest[:, 2] - rest[:, 0]) * (rest[:, 3] - rest[:, 1])
        union = area + (best[2] - best[0]) * (best[3] - best[1]) - inter
        same = inter / np.maximum(union, 1e-9) >= iou_min
        groups.append(order[same])
        order = order[~same]
    return groups
