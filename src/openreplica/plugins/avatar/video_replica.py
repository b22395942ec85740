"""Video replicas ("Video Rewrite"): a person's own video, its mouth re-chosen per viseme.

Built from 30 s to 2 min of the person talking (`video_training.py`): every frame is
framed like the photo rig and indexed by its mouth shape (face mesh: lip gap and mouth
width over the distance between the eyes) and, when known, by the viseme spoken in it
(forced alignment of the video's own audio). At run time a quiet stretch of the video
plays as an idle loop (forward, then backward, so it never jumps) and, per output
frame, the lower face is taken from the indexed frame whose mouth best matches the
wanted viseme mix, with a penalty for jumping between frames (an online Viterbi with no
look-ahead: staying on the frame chosen last, its successor, or the loop frame's own
mouth is free), warped onto the loop frame by a similarity transform fitted to lip,
chin and nose landmarks, and feather-blended in.

Frames come from a `FrameSource`: a list of arrays, or `JpegFrames` (the stored
replica: JPEGs decoded on demand, a few kept), so a two-minute replica costs its
compressed size in memory, not gigabytes.

`render(t, visemes)` is pure apart from the jump penalty's memory of the previous choice
(`choose` takes it explicitly; `VideoReplicaStream` keeps it per stream).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

from openreplica.plugins.visemes import OPENNESS, VISEMES, Viseme

from .face_shapes import JAW, LOWER_INNER, LOWER_OUTER, NOSE, UPPER_INNER, UPPER_OUTER
from .facemesh import FaceModels
from .photo_rig import NoFaceFound, frame_photo

__all__ = [
    "FrameSource",
    "JpegFrames",
    "MouthIndex",
    "VideoReplica",
    "VideoReplicaStream",
    "mouth_features",
]

Image = NDArray[np.uint8]
F64 = NDArray[np.float64]

#: landmarks the lower face is aligned by (they move with the head, and the lips)
_ALIGN = tuple(dict.fromkeys(NOSE + JAW + UPPER_OUTER + LOWER_OUTER))
#: the pasted region: below the nose, inside the jaw
_REGION = (132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288,
           361, 435, 426, 2, 206, 215)  # fmt: skip
#: the price of a jump to another frame, in feature spreads
_JUMP_COST = 0.35
FPS = 25.0


def mouth_features(pts: F64) -> F64:
    """The mouth's shape over the distance between the eye corners: inner lip gap (first:
    the idle loop and tests read it), mouth width, upper and lower lip thickness at the
    middle, lower lip to chin, nose to upper lip, and how far the corners sit above the
    lips' middle (a smile)."""
    iod = float(np.linalg.norm(pts[263] - pts[33]))
    gap = float(
        np.mean(np.linalg.norm(pts[list(LOWER_INNER[2:9])] - pts[list(UPPER_INNER[2:9])], axis=1))
    )

    def d(a: int, b: int) -> float:
        return float(np.linalg.norm(pts[a] - pts[b]))

    middle = (pts[13] + pts[14]) / 2.0
    corners = (pts[61] + pts[291]) / 2.0
    up = pts[2] - pts[152]
    lift = float(np.dot(corners - middle, up) / max(1e-6, float(np.linalg.norm(up))))
    return np.array([gap, d(61, 291), d(0, 13), d(14, 17), d(17, 152), d(2, 0), lift]) / iod


class FrameSource(Protocol):
    def __len__(self) -> int: ...

    def __getitem__(self, index: int, /) -> Image: ...


class JpegFrames:
    """Square JPEG frames decoded on demand, scaled (and centre-cropped) to
    `width` x `height`; the last `keep` decoded frames are kept."""

    def __init__(
        self, jpegs: Sequence[bytes], side: int, width: int, height: int, keep: int = 24
    ) -> None:
        self._jpegs = jpegs
        self.scale = max(width, height) / side
        self.offset = np.array(
            [(round(side * self.scale) - width) // 2, (round(side * self.scale) - height) // 2],
            np.float64,
        )
        self._size = (round(side * self.scale), round(side * self.scale))
        self.width, self.height = width, height
        self._keep = keep
        self._cache: OrderedDict[int, Image] = OrderedDict()

    def __len__(self) -> int:
        return len(self._jpegs)

    def __getitem__(self, index: int, /) -> Image:
        found = self._cache.get(index)
        if found is not None:
            self._cache.move_to_end(index)
            return found
        bgr = cv2.imdecode(np.frombuffer(self._jpegs[index], np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"frame {index} of the video replica is not a readable JPEG")
        if bgr.shape[1::-1] != self._size:
            # bilinear down to half size: 0.5 ms against INTER_AREA's 1.2 at 512 -> 384
            interp = cv2.INTER_AREA if self.scale < 0.5 else cv2.INTER_LINEAR
            bgr = cv2.resize(bgr, self._size, interpolation=interp)
        ox, oy = int(self.offset[0]), int(self.offset[1])
        rgb = np.ascontiguousarray(
            cv2.cvtColor(bgr[oy : oy + self.height, ox : ox + self.width], cv2.COLOR_BGR2RGB),
            np.uint8,
        )
        self._cache[index] = rgb
        if len(self._cache) > self._keep:
            self._cache.popitem(last=False)
        return rgb

    def map_points(self, points: F64) -> F64:
        """Landmarks in stored-frame pixels -> this source's pixels."""
        return points * self.scale - self.offset


class MouthIndex:
    """Per frame: mouth features and the viseme spoken (None when unknown)."""

    def __init__(self, features: F64, labels: Sequence[Viseme | None]) -> None:
        self.features = features  # (n, k)
        self.labels = tuple(labels)
        #: each feature's spread over the video: costs are measured in these units
        self.scale = np.maximum(features.std(0), 1e-3)

    def targets(self) -> F64:
        """(len(VISEMES), k) feature targets: the median of each viseme's labelled frames
        (labels from speech are noisy); visemes never labelled get the median frame with
        its lip gap placed by their openness between the closest and widest-open frames."""
        lo, hi = self.features.min(0), self.features.max(0)
        out = np.zeros((len(VISEMES), self.features.shape[1]))
        for k, v in enumerate(VISEMES):
            mine = [i for i, label in enumerate(self.labels) if label == v]
            if mine:
                out[k] = np.median(self.features[mine], axis=0)
            else:
                out[k] = np.median(self.features, axis=0)
                out[k, 0] = lo[0] + (hi[0] - lo[0]) * OPENNESS[v]
        return out


def index_frames(
    frames: Sequence[Image], models: FaceModels, width: int, height: int
) -> tuple[list[Image], list[F64], list[int]]:
    """Frame every picture like the first (the photo rig's framing) and run the mesh:
    (framed frames, landmarks, indices of the kept source frames). Frames the mesh loses
    (motion blur, a turned head) are skipped."""
    if not frames:
        raise ValueError("a video replica needs frames")
    first = models.landmarks(frames[0])
    if first is None:
        raise NoFaceFound("no face in the video's first frame")
    _, to_frame = frame_photo(frames[0], first, width, height)
    kept: list[Image] = []
    points: list[F64] = []
    where: list[int] = []
    for i, src in enumerate(frames):
        framed = np.asarray(
            cv2.warpAffine(src, to_frame, (width, height), flags=cv2.INTER_AREA,
                           borderMode=cv2.BORDER_REPLICATE),
            np.uint8,
        )  # fmt: skip
        mesh = models.landmarks(framed)
        if mesh is None:
            continue
        kept.append(framed)
        points.append(mesh.points[:, :2])
        where.append(i)
    return kept, points, where


class VideoReplica:
    """Frames of a person talking, framed and indexed (see the module doc).

    `points` are each frame's 468 landmarks in the frames' pixels; `loop` the half-open
    range of frames played as the idle loop (all of them by default)."""

    def __init__(
        self,
        frames: FrameSource,
        points: F64,
        labels: Sequence[Viseme | None],
        width: int,
        height: int,
        loop: tuple[int, int] | None = None,
    ) -> None:
        n = len(frames)
        if n < 2 or len(points) != n or len(labels) != n:
            raise ValueError("a video replica needs at least two frames, each with landmarks")
        self.frames = frames
        self.width, self.height = width, height
        self.points = np.asarray(points, np.float64)
        self.index = MouthIndex(np.stack([mouth_features(p) for p in self.points]), labels)
        self._targets = self.index.targets()
        start, end = loop if loop is not None else (0, n)
        if not 0 <= start < end <= n or end - start < 2:
            raise ValueError(f"bad idle loop {loop} for {n} frames")
        self.loop = (start, end)

    @classmethod
    def build(
        cls,
        frames: Sequence[Image],
        models: FaceModels,
        width: int,
        height: int,
        labels: Sequence[Viseme | None] | None = None,
    ) -> VideoReplica:
        """Index raw frames with the mesh (frames it loses are dropped)."""
        kept, points, where = index_frames(frames, models, width, height)
        if len(kept) < 2:
            raise NoFaceFound("the face was found in fewer than two frames")
        kept_labels = [labels[i] if labels is not None else None for i in where]
        return cls(kept, np.stack(points), kept_labels, width, height)

    def loop_index(self, t: float, fps: float = FPS) -> int:
        """The idle loop: forward then backward through the loop's frames."""
        start, end = self.loop
        n = end - start
        k = int(t * fps) % (2 * n - 2)
        return start + (k if k < n else 2 * n - 2 - k)

    def choose(self, visemes: F64, previous: int | None, base: int | None = None) -> int:
        """The frame whose mouth best matches the viseme mix. Staying on `previous`, its
        successor or the loop frame `base` costs nothing; any other frame pays a jump."""
        target = np.asarray(visemes, np.float64) @ self._targets
        cost = np.linalg.norm((self.index.features - target) / self.index.scale, axis=1)
        if previous is not None or base is not None:
            jump = np.full(len(cost), _JUMP_COST)
            for free in (previous, None if previous is None else previous + 1, base):
                if free is not None and free < len(cost):
                    jump[free] = 0.0
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
        if x1 - x0 < 4 or y1 - y0 < 4:
            return out
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
        start, end = replica.loop
        self._offset = seed % max(1, end - start)
        self._previous: int | None = None
        self.last_choice = 0
        self.last_base = start

    def render_visemes(self, t: float, visemes: F64) -> Image:
        base = self.last_base = self.replica.loop_index(t + self._offset / FPS)
        choice = self.replica.choose(visemes, self._previous, base)
        self.last_choice = self._previous = choice
        return self.replica.compose(base, choice)

    def render(self, t: float, mouth_open: float) -> Image:
        """Audio-level driven (speech without visemes): open toward "aa"."""
        m = min(1.0, max(0.0, float(mouth_open)))
        w = np.zeros(len(VISEMES))
        w[VISEMES.index("rest")], w[VISEMES.index("aa")] = 1.0 - m, m
        return self.render_visemes(t, w)
