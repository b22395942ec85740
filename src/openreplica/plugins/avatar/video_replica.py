"""Video replicas ("Video Rewrite"): a person's own video, its mouth re-chosen per viseme.

Built from 30 s to 2 min of the person talking: every frame is framed like the photo rig
and indexed by its mouth shape (face mesh: lip gap and mouth width over the distance
between the eyes) and, when known, by the viseme spoken in it (forced alignment of the
video's own audio). At run time the video plays as an idle loop (forward, then
backward, so it never jumps) and, per output frame, the lower face is taken from the
indexed frame whose mouth best matches the wanted viseme mix, with a penalty for
jumping between frames, warped onto the loop frame by a similarity transform fitted to
lip, chin and nose landmarks, and feather-blended in.

`render(t, visemes)` is pure apart from the jump penalty's memory of the previous choice
(`choose` takes it explicitly; `VideoReplicaStream` keeps it per stream).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from openreplica.plugins.visemes import OPENNESS, VISEMES, Viseme

from .face_shapes import JAW, LOWER_INNER, LOWER_OUTER, NOSE, UPPER_INNER, UPPER_OUTER
from .facemesh import FaceModels
from .photo_rig import NoFaceFound, frame_photo

__all__ = ["MouthIndex", "VideoReplica", "VideoReplicaStream", "mouth_features"]

Image = NDArray[np.uint8]
F64 = NDArray[np.float64]

#: landmarks the lower face is aligned by (they move with the head, and the lips)
_ALIGN = tuple(dict.fromkeys(NOSE + JAW + UPPER_OUTER + LOWER_OUTER))
#: the pasted region: below the nose, inside the jaw
_REGION = (132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288,
           361, 435, 426, 2, 206, 215)  # fmt: skip
_JUMP_COST = 0.04


def mouth_features(pts: F64) -> F64:
    """(inner lip gap, mouth width) over the distance between the eye corners."""
    iod = float(np.linalg.norm(pts[263] - pts[33]))
    gap = float(
        np.mean(np.linalg.norm(pts[list(LOWER_INNER[2:9])] - pts[list(UPPER_INNER[2:9])], axis=1))
    )
    width = float(np.linalg.norm(pts[291] - pts[61]))
    return np.array([gap / iod, width / iod])


@dataclass(frozen=True, slots=True)
class MouthIndex:
    """Per frame: mouth features and the viseme spoken (None when unknown)."""

    features: F64  # (n, 2)
    labels: tuple[Viseme | None, ...]

    def targets(self) -> F64:
        """(len(VISEMES), 2) feature targets: the mean of each viseme's labelled frames;
        visemes never labelled are placed by their openness between the closest and the
        widest-open frames."""
        lo, hi = self.features.min(0), self.features.max(0)
        out = np.zeros((len(VISEMES), 2))
        for k, v in enumerate(VISEMES):
            mine = [i for i, label in enumerate(self.labels) if label == v]
            if mine:
                out[k] = self.features[mine].mean(0)
            else:
                out[k] = [lo[0] + (hi[0] - lo[0]) * OPENNESS[v], np.median(self.features[:, 1])]
        return out


class VideoReplica:
    """Frames of a person talking, framed and indexed (see the module doc)."""

    def __init__(
        self,
        frames: Sequence[Image],
        models: FaceModels,
        width: int,
        height: int,
        labels: Sequence[Viseme | None] | None = None,
    ) -> None:
        if not frames:
            raise ValueError("a video replica needs frames")
        first = models.landmarks(frames[0])
        if first is None:
            raise NoFaceFound("no face in the video's first frame")
        _, to_frame = frame_photo(frames[0], first, width, height)
        self.width, self.height = width, height
        self.frames: list[Image] = []
        points: list[F64] = []
        kept_labels: list[Viseme | None] = []
        for i, src in enumerate(frames):
            framed = np.asarray(
                cv2.warpAffine(
                    src,
                    to_frame,
                    (width, height),
                    flags=cv2.INTER_AREA,
                    borderMode=cv2.BORDER_REPLICATE,
                ),
                np.uint8,
            )
            mesh = models.landmarks(framed)
            if mesh is None:  # a frame the mesh lost (motion blur, a turned head): skip
                continue
            self.frames.append(framed)
            points.append(mesh.points[:, :2])
            kept_labels.append(labels[i] if labels is not None else None)
        if len(self.frames) < 2:
            raise NoFaceFound("the face was found in fewer than two frames")
        self.points = np.stack(points)
        self.index = MouthIndex(np.stack([mouth_features(p) for p in points]), tuple(kept_labels))
        self._targets = self.index.targets()

    def loop_index(self, t: float, fps: float = 25.0) -> int:
        """The idle loop: forward then backward through the frames."""
        n = len(self.frames)
        k = int(t * fps) % (2 * n - 2)
        return k if k < n else 2 * n - 2 - k

    def choose(self, visemes: F64, previous: int | None) -> int:
        """The frame whose mouth best matches the viseme mix (with a jump penalty)."""
        target = np.asarray(visemes, np.float64) @ self._targets
        cost = np.linalg.norm(self.index.features - target, axis=1)
        if previous is not None:
            jump = np.full(len(cost), _JUMP_COST)
            jump[previous] = 0.0
            if previous + 1 < len(cost):
                jump[previous + 1] = 0.0
            cost = cost + jump
        return int(np.argmin(cost))

    def compose(self, base: int, mouth: int) -> Image:
        """Loop frame `base` with the lower face of frame `mouth`."""
        out = self.frames[base].copy()
        if mouth == base:
            return out
        src = self.points[mouth][list(_ALIGN)].astype(np.float32)
        dst = self.points[base][list(_ALIGN)].astype(np.float32)
        m, _ = cv2.estimateAffinePartial2D(src, dst)
        if m is None:
            return out
        region = self.points[base][list(_REGION)]
        x0, y0 = np.maximum(0, np.floor(region.min(0)) - 6).astype(int)
        x1 = min(self.width, int(np.ceil(region[:, 0].max())) + 6)
        y1 = min(self.height, int(np.ceil(region[:, 1].max())) + 6)
        shift = np.array([[1.0, 0.0, -x0], [0.0, 1.0, -y0]])
        m_roi = shift @ np.vstack([m, [0.0, 0.0, 1.0]])
        patch = cv2.warpAffine(self.frames[mouth], m_roi, (x1 - x0, y1 - y0),
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        hull = cv2.convexHull(np.round(region - [x0, y0]).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 255)
        feather = max(3, (x1 - x0) // 12) | 1
        a = cv2.GaussianBlur(mask, (feather, feather), 0).astype(np.float32)[..., None] / 255.0
        roi = out[y0:y1, x0:x1]
        roi[...] = np.clip(roi * (1.0 - a) + patch * a + 0.5, 0, 255).astype(np.uint8)
        return out

    def create_stream(self, seed: int = 0) -> VideoReplicaStream:
        return VideoReplicaStream(self, seed)


class VideoReplicaStream:
    """One conversation's view: remembers the last mouth frame for the jump penalty."""

    def __init__(self, replica: VideoReplica, seed: int = 0) -> None:
        self.replica = replica
        self.width, self.height = replica.width, replica.height
        self._offset = seed % max(1, len(replica.frames))
        self._previous: int | None = None
        self.last_choice = 0

    def render_visemes(self, t: float, visemes: F64) -> Image:
        base = self.replica.loop_index(t + self._offset / 25.0)
        self.last_choice = self._previous = self.replica.choose(visemes, self._previous)
        return self.replica.compose(base, self.last_choice)

    def render(self, t: float, mouth_open: float) -> Image:
        m = min(1.0, max(0.0, float(mouth_open)))
        w = np.zeros(len(VISEMES))
        w[VISEMES.index("rest")], w[VISEMES.index("aa")] = 1.0 - m, m
        return self.render_visemes(t, w)
