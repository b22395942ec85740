"""Face-local coordinates and the per-frame head transform.

Shapes are designed in *face units*: origin at the face centre, one unit = the frame's
shorter side, y pointing down. `Placement` puts that space into a frame of any size,
`FaceTransform` adds the head pose (sway and roll about the neck) for one frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .motion import HeadPose

__all__ = ["Box", "FaceTransform", "Placement", "smooth"]

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), frame pixels

#: where the head rotates: the top of the neck, in face units
NECK_PIVOT = (0.0, 0.20)


@dataclass(frozen=True, slots=True)
class Placement:
    """Face units -> pixels for a `width` x `height` canvas, optionally supersampled."""

    cx: float
    cy: float
    s: float

    @classmethod
    def for_size(cls, width: int, height: int, supersample: int = 1) -> Placement:
        s = float(min(width, height)) * supersample
        # Eyes at ~42 % of the height: the usual framing of a video call.
        cy = height * supersample / 2.0 - 0.08 * s
        return cls(width * supersample / 2.0, cy, s)

    def pts(self, local: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(local, np.float64) * self.s + (self.cx, self.cy)

    def pt(self, u: float, v: float) -> tuple[float, float]:
        return (self.cx + u * self.s, self.cy + v * self.s)


class FaceTransform:
    """Face units -> frame pixels for one frame: placement, then the head pose."""

    def __init__(self, place: Placement, pose: HeadPose) -> None:
        self.place = place
        self.s = place.s
        px, py = place.pt(*NECK_PIVOT)
        a = math.radians(pose.roll_deg)
        c, s = math.cos(a), math.sin(a)
        # Rotate about the neck pivot, then translate by the sway.
        self.matrix: NDArray[np.float64] = np.array(
            [
                [c, -s, px - c * px + s * py + pose.dx],
                [s, c, py - s * px - c * py + pose.dy],
            ]
        )

    def pts(self, local: NDArray[np.float64]) -> NDArray[np.float64]:
        p = self.place.pts(local)
        return p @ self.matrix[:, :2].T + self.matrix[:, 2]

    def roi_matrix(self, x0: int, y0: int) -> NDArray[np.float64]:
        """The same transform for a crop whose top-left corner is (x0, y0) in src and dst."""
        m = self.matrix.copy()
        m[:, 2] += m[:, :2] @ np.array([x0, y0], np.float64) - (x0, y0)
        return m


def motion_box(
    place: Placement,
    local_box: tuple[float, float, float, float],
    max_offset: float,
    max_roll_deg: float,
    width: int,
    height: int,
) -> Box:
    """Pixel box that contains `local_box` under every head pose the motion can produce."""
    x0, y0 = place.pt(local_box[0], local_box[1])
    x1, y1 = place.pt(local_box[2], local_box[3])
    px, py = place.pt(*NECK_PIVOT)
    reach = max(math.hypot(x - px, y - py) for x in (x0, x1) for y in (y0, y1))
    pad = max_offset + reach * math.sin(math.radians(max_roll_deg)) + 2.0
    return (
        max(0, math.floor(x0 - pad)),
        max(0, math.floor(y0 - pad)),
        min(width, math.ceil(x1 + pad)),
        min(height, math.ceil(y1 + pad)),
    )


def smooth(
    points: NDArray[np.float64], iterations: int = 3, closed: bool = True
) -> NDArray[np.float64]:
    """Chaikin corner cutting: turns a few control points into a soft curve."""
    p = np.asarray(points, np.float64)
    for _ in range(iterations):
        nxt = np.roll(p, -1, axis=0) if closed else p[1:]
        cur = p if closed else p[:-1]
        q = 0.75 * cur + 0.25 * nxt
        r = 0.25 * cur + 0.75 * nxt
        mid = np.empty((len(q) * 2, 2))
        mid[0::2], mid[1::2] = q, r
        p = mid if closed else np.vstack([p[:1], mid, p[-1:]])
    return p
