"""Small anti-aliased drawing helpers over OpenCV, in float pixel coordinates.

OpenCV draws with integer coordinates; passing `shift` bits of fixed point gives
sub-pixel placement, which is what keeps slow head motion smooth instead of stepping
one whole pixel at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

__all__ = [
    "SHIFT",
    "Image",
    "Layer",
    "ellipse",
    "ellipse_points",
    "fill_poly",
    "polyline",
    "radial",
    "soft_ellipse",
    "vertical_gradient",
]

Image = NDArray[np.uint8]
Points = NDArray[np.float64]
Color = int | float | tuple[int, int, int] | tuple[float, float, float]

SHIFT = 4
_ONE = 1 << SHIFT


def _fixed(points: Points) -> NDArray[np.int32]:
    return np.round(np.asarray(points, dtype=np.float64) * _ONE).astype(np.int32)


def fill_poly(img: Image, points: Points, color: Color) -> None:
    cv2.fillPoly(img, [_fixed(points)], color, cv2.LINE_AA, SHIFT)


def polyline(
    img: Image, points: Points, color: Color, thickness: float, closed: bool = False
) -> None:
    # Thickness is an integer in OpenCV; never let a thin stroke round down to nothing.
    width = max(1, round(thickness))
    cv2.polylines(img, [_fixed(points)], closed, color, width, cv2.LINE_AA, SHIFT)


def ellipse(
    img: Image,
    centre: tuple[float, float],
    axes: tuple[float, float],
    color: Color,
    angle: float = 0.0,
    thickness: int = -1,
) -> None:
    c = (round(centre[0] * _ONE), round(centre[1] * _ONE))
    a = (max(0, round(axes[0] * _ONE)), max(0, round(axes[1] * _ONE)))
    cv2.ellipse(img, c, a, angle, 0, 360, color, thickness, cv2.LINE_AA, SHIFT)


def ellipse_points(
    cx: float, cy: float, ax: float, ay: float, start_deg: float, end_deg: float, n: int = 32
) -> Points:
    """Points along an ellipse arc (angles in degrees, 0 = right, 90 = down)."""
    a = np.radians(np.linspace(start_deg, end_deg, n))
    return np.stack([cx + ax * np.cos(a), cy + ay * np.sin(a)], axis=1)


class Layer:
    """A premultiplied RGB canvas with its own coverage (alpha) channel.

    Drawing anti-aliased shapes onto a black canvas yields colour x coverage, which is
    exactly premultiplied colour, so compositing later is one multiply-add.
    """

    def __init__(self, height: int, width: int) -> None:
        self.rgb: Image = np.zeros((height, width, 3), np.uint8)
        self.alpha: NDArray[np.uint8] = np.zeros((height, width), np.uint8)

    def fill(self, points: Points, color: Color) -> None:
        fill_poly(self.rgb, points, color)
        fill_poly(self.alpha, points, 255)

    def ellipse(self, centre: tuple[float, float], axes: tuple[float, float], color: Color) -> None:
        ellipse(self.rgb, centre, axes, color)
        ellipse(self.alpha, centre, axes, 255)

    def stroke(self, points: Points, color: Color, thickness: float) -> None:
        polyline(self.rgb, points, color, thickness)
        polyline(self.alpha, points, 255, thickness)

    def tint(self, mask: NDArray[np.float32], color: Color, strength: float) -> None:
        """Blend `color` into already-covered pixels, weighted by mask (0..1)."""
        w = (mask * strength * (self.alpha.astype(np.float32) / 255.0))[..., None]
        rgb = self.rgb.astype(np.float32)
        target = np.asarray(color, np.float32) * (self.alpha.astype(np.float32) / 255.0)[..., None]
        self.rgb = np.clip(rgb + (target - rgb) * w, 0, 255).astype(np.uint8)

    def shade(self, factor: NDArray[np.float32]) -> None:
        """Multiply colour by a per-pixel factor (lighting); coverage is unchanged."""
        self.rgb = np.clip(self.rgb.astype(np.float32) * factor[..., None], 0, 255).astype(np.uint8)

    def downsampled(self, factor: int) -> Layer:
        h, w = self.alpha.shape
        out = Layer(h // factor, w // factor)
        size = (w // factor, h // factor)
        out.rgb = np.asarray(cv2.resize(self.rgb, size, interpolation=cv2.INTER_AREA), np.uint8)
        out.alpha = np.asarray(cv2.resize(self.alpha, size, interpolation=cv2.INTER_AREA), np.uint8)
        return out


def vertical_gradient(height: int, width: int, top: Color, bottom: Color) -> NDArray[np.float32]:
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    t = np.asarray(top, np.float32)
    b = np.asarray(bottom, np.float32)
    return np.broadcast_to(t + (b - t) * y, (height, width, 3)).copy()


def radial(
    height: int, width: int, cx: float, cy: float, rx: float, ry: float
) -> NDArray[np.float32]:
    """Normalised elliptical distance from (cx, cy): 0 at the centre, 1 on the ellipse."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.asarray(np.sqrt(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2), np.float32)


def soft_ellipse(
    shape: Sequence[int],
    centre: tuple[float, float],
    axes: tuple[float, float],
    blur: float,
    angle: float = 0.0,
) -> NDArray[np.float32]:
    """A 0..1 mask of a blurred ellipse, for blush, shadows and glows."""
    mask = np.zeros((shape[0], shape[1]), np.uint8)
    ellipse(mask, centre, axes, 255, angle)
    k = int(blur * 3) | 1
    return np.asarray(cv2.GaussianBlur(mask, (k, k), blur), np.float32) / np.float32(255.0)
