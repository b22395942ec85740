"""Where each viseme and a blink move the face: displacements of face-mesh handles.

Everything is measured in a mouth frame built from the rest mesh: origin at the mouth
centre, `u` along the line between the corners and `v` down the face, both in units of
half the mouth width (`hw`), so the shapes fit any face size and a slight head tilt.
The returned displacements are forward (where each handle moves to), in frame pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from openreplica.plugins.visemes import VISEMES, Viseme

__all__ = ["HANDLES", "EyeLids", "MouthFrame", "blink_basis", "viseme_bases"]

F64 = NDArray[np.float64]

# Face-mesh indices (MediaPipe's canonical 468-point topology).
UPPER_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LOWER_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
UPPER_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LOWER_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
JAW = (132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361)
CHIN = (18, 200, 199, 175, 83, 313, 182, 406, 201, 421, 32, 262, 171, 396, 208, 428)
UPPER_FACE = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 93, 234, 127, 162, 21, 54, 103,
              67, 109)  # fmt: skip
NOSE = (1, 2, 4, 5, 6, 98, 327, 168, 195, 197, 49, 279, 164, 167, 393)
CHEEKS = (50, 280, 205, 425, 187, 411, 147, 376, 123, 352, 116, 345)
BROWS = (70, 63, 105, 66, 107, 336, 296, 334, 293, 300)
# Eyes: upper lid point i closes onto lower lid point i (subject's right eye, then left).
UPPER_LID = (246, 161, 160, 159, 158, 157, 173, 466, 388, 387, 386, 385, 384, 398)
LOWER_LID = (7, 163, 144, 145, 153, 154, 155, 249, 390, 373, 374, 380, 381, 382)
EYE_CORNERS = (33, 133, 263, 362)
LID_CREASE = (247, 30, 29, 27, 28, 56, 190, 467, 260, 259, 257, 258, 286, 414)

LIPS = tuple(dict.fromkeys(UPPER_INNER + LOWER_INNER + UPPER_OUTER + LOWER_OUTER))
HANDLES: tuple[int, ...] = tuple(
    dict.fromkeys(
        LIPS + JAW + CHIN + UPPER_FACE + NOSE + CHEEKS + BROWS + UPPER_LID + LOWER_LID
        + EYE_CORNERS + LID_CREASE
    )
)  # fmt: skip
_CORNERS = frozenset((61, 291, 78, 308))


@dataclass(frozen=True, slots=True)
class _Shape:
    drop: float  # lower lip and jaw down
    lift: float  # upper lip up
    width: float  # corners out (+) or in (-)
    close: float  # inner lips meet (m/b/p)
    tuck: float  # lower lip up under the upper teeth (f/v)


_SHAPES: dict[Viseme, _Shape] = {
    "rest": _Shape(0.0, 0.0, 0.0, 0.0, 0.0),
    "mbp": _Shape(0.0, 0.0, -0.03, 1.0, 0.0),
    "fv": _Shape(0.04, 0.03, 0.02, 0.0, 1.0),
    "aa": _Shape(0.62, 0.07, 0.03, 0.0, 0.0),
    "oo": _Shape(0.26, 0.05, -0.3, 0.0, 0.0),
    "ee": _Shape(0.2, 0.06, 0.14, 0.0, 0.0),
    "relaxed": _Shape(0.14, 0.02, 0.0, 0.0, 0.0),
}


@dataclass(frozen=True, slots=True)
class MouthFrame:
    centre: F64
    u: F64  # unit vector, image-left corner to image-right corner
    v: F64  # unit vector down the face
    hw: float  # half the mouth width, pixels

    @classmethod
    def from_mesh(cls, pts: F64) -> MouthFrame:
        left, right = pts[61], pts[291]
        u = right - left
        hw = float(np.linalg.norm(u)) / 2.0
        u = u / (2.0 * hw)
        v = np.array([-u[1], u[0]])
        centre = (left + right) / 2.0 * 0.5 + (pts[13] + pts[14]) / 2.0 * 0.5
        return cls(centre, u, v, hw)

    def local(self, p: F64) -> F64:
        """(..., 2) frame pixels -> (u, v) in half-mouth widths."""
        d = p - self.centre
        return np.stack([d @ self.u, d @ self.v], -1) / self.hw

    def to_pixels(self, du: F64, dv: F64) -> F64:
        return (np.multiply.outer(du, self.u) + np.multiply.outer(dv, self.v)) * self.hw


def viseme_bases(pts: F64) -> F64:
    """(len(VISEMES), len(HANDLES), 2): each viseme's handle displacements."""
    mf = MouthFrame.from_mesh(pts)
    handles = pts[list(HANDLES)]
    uv = mf.local(handles)
    u, v = uv[:, 0], uv[:, 1]
    index = {h: i for i, h in enumerate(HANDLES)}

    def rows(ids: tuple[int, ...]) -> NDArray[np.intp]:
        return np.array([index[i] for i in ids], np.intp)

    # How much of a jaw drop each handle follows: the lower lip fully, the chin nearly,
    # the cheeks beside and below the mouth partly; nothing above the mouth line.
    below = np.clip(v / 0.35, 0.0, 1.0)
    side = np.exp(-((u / 1.9) ** 2))
    jaw = below * side
    jaw[rows(JAW)] *= 0.85
    jaw[rows(LOWER_INNER + LOWER_OUTER)] = np.exp(
        -((u[rows(LOWER_INNER + LOWER_OUTER)] / 1.6) ** 2)
    )
    upper_lip = np.zeros(len(HANDLES))
    upper_lip[rows(UPPER_INNER + UPPER_OUTER)] = np.exp(
        -((u[rows(UPPER_INNER + UPPER_OUTER)] / 0.9) ** 2)
    )
    corners = rows(tuple(_CORNERS))
    jaw[corners] = 0.35
    upper_lip[corners] = 0.0
    lips = rows(LIPS)
    # Per-column inner gap at rest (pixels, along v): what closing has to make up.
    gap = mf.local(pts[list(LOWER_INNER)])[:, 1] - mf.local(pts[list(UPPER_INNER)])[:, 1]
    gap = np.clip(gap, 0.0, None)
    gap_of = dict(zip(LOWER_INNER, gap, strict=True)) | dict(zip(UPPER_INNER, gap, strict=True))
    out = np.zeros((len(VISEMES), len(HANDLES), 2))
    for k, name in enumerate(VISEMES):
        s = _SHAPES[name]
        du = np.zeros(len(HANDLES))
        du[lips] = s.width * u[lips]
        dv = s.drop * jaw - s.lift * upper_lip
        for ids, sign in ((UPPER_INNER, 1.0), (LOWER_INNER, -1.0)):
            for mesh_index in ids:
                if mesh_index in _CORNERS:
                    continue
                r = index[mesh_index]
                g = gap_of[mesh_index]
                # m/b/p: the lips meet half way; f/v: the lower lip rises to the upper.
                dv[r] += sign * s.close * (g / 2.0 + 0.03)
                if sign < 0:
                    dv[r] -= s.tuck * (g + 0.06)
        # The outer lower lip follows the inner one when closing, keeping its fullness.
        for outer, inner in zip(LOWER_OUTER, LOWER_INNER, strict=True):
            if outer not in _CORNERS:
                dv[index[outer]] += 0.8 * (
                    -s.close * (gap_of[inner] / 2.0) - s.tuck * (gap_of[inner] + 0.04)
                )
        for outer, inner in zip(UPPER_OUTER, UPPER_INNER, strict=True):
            if outer not in _CORNERS:
                dv[index[outer]] += 0.6 * s.close * (gap_of[inner] / 2.0)
        out[k] = mf.to_pixels(du, dv)
    return out


@dataclass(frozen=True, slots=True)
class EyeLids:
    upper: F64  # (14, 2) upper lid points at rest
    lower: F64

    @classmethod
    def from_mesh(cls, pts: F64) -> EyeLids:
        return cls(pts[list(UPPER_LID)], pts[list(LOWER_LID)])

    def opening(self) -> float:
        """Mean distance between the lids (pixels)."""
        return float(np.linalg.norm(self.lower - self.upper, axis=1).mean())


def blink_basis(pts: F64) -> F64:
    """(len(HANDLES), 2): a full blink. The upper lids come down to just above the lower
    lids (which rise a little), and the skin under the brows follows part way."""
    index = {h: i for i, h in enumerate(HANDLES)}
    out = np.zeros((len(HANDLES), 2))
    lids = EyeLids.from_mesh(pts)
    travel = lids.lower - lids.upper
    for j, (up, low) in enumerate(zip(UPPER_LID, LOWER_LID, strict=True)):
        out[index[up]] = 0.88 * travel[j]
        out[index[low]] = -0.1 * travel[j]
    mean_travel = travel.reshape(2, 7, 2).mean(1)
    for j, crease in enumerate(LID_CREASE):
        out[index[crease]] = 0.45 * mean_travel[j // 7]
    return out
