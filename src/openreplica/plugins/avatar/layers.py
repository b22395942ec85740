"""Pre-rendering of a character's static parts, once per stream.

Two layers: the *backdrop* (background, shoulders, neck), which never moves, and the
*head* (back hair, ears, face with shading, nose, hair), which sways as one piece. Both
are drawn at 2x and downsampled, which costs a few milliseconds once and buys smoother
edges than OpenCV's anti-aliasing alone. Per-frame work happens elsewhere.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from .draw import Image, Layer, ellipse_points, fill_poly, polyline, radial, soft_ellipse
from .draw import vertical_gradient as gradient
from .geometry import Placement, smooth
from .style import RGB, CharacterStyle

__all__ = ["SUPERSAMPLE", "face_outline", "render_backdrop", "render_head"]

SUPERSAMPLE = 2


def _scaled(color: RGB, k: float) -> tuple[int, int, int]:
    return (
        min(255, round(color[0] * k)),
        min(255, round(color[1] * k)),
        min(255, round(color[2] * k)),
    )


def _smoothstep(e0: float, e1: float, x: NDArray[np.float32]) -> NDArray[np.float32]:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return np.asarray(t * t * (3.0 - 2.0 * t), np.float32)


def _over(canvas: Image, layer: Layer) -> Image:
    cover = layer.alpha.astype(np.float32)[..., None] / 255.0
    return (layer.rgb + canvas * (1.0 - cover)).clip(0, 255).astype(np.uint8)


def face_outline(style: CharacterStyle, n: int = 72) -> NDArray[np.float64]:
    """The face in face units: a rounded top and a jaw that narrows to a soft chin."""
    th = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    x, y = np.cos(th), np.sin(th)
    lower = y > 0
    x = np.where(lower, x * (1.0 - 0.24 * y**2), x)
    y = np.where(lower, y * 1.04, y)
    return np.stack([x * style.face_w, y * style.face_h], axis=1)


def render_backdrop(style: CharacterStyle, width: int, height: int) -> Image:
    k = SUPERSAMPLE
    place = Placement.for_size(width, height, k)
    h, w = height * k, width * k
    s = place.s
    img = gradient(h, w, style.background_top, style.background_bottom)
    # A soft glow behind the head and a gentle vignette keep the eye on the face.
    glow = np.exp(-(radial(h, w, place.cx, place.cy, 0.45 * s, 0.45 * s) ** 2))
    img += (255.0 - img) * (0.28 * glow)[..., None]
    vignette = radial(h, w, w / 2.0, h / 2.0, 0.85 * w, 0.85 * h)
    img *= (1.0 - 0.22 * _smoothstep(0.5, 1.0, vignette))[..., None]
    canvas = np.clip(img, 0, 255).astype(np.uint8)

    # Neck, darker at the top where the chin shades it.
    neck = Layer(h, w)
    neck.fill(
        place.pts(np.array([[-0.052, 0.08], [0.052, 0.08], [0.06, 0.33], [-0.06, 0.33]])),
        _scaled(style.skin, 0.88),
    )
    shade = soft_ellipse((h, w), place.pt(0.0, 0.19), (0.08 * s, 0.03 * s), 0.025 * s)
    neck.shade((1.0 - 0.22 * shade).astype(np.float32))
    canvas = _over(canvas, neck)

    # Shoulders: sloping down from the neck and running off the bottom of the frame.
    bottom = (h - place.cy) / s + 0.05
    right = np.array(
        [
            [0.05, 0.262],
            [0.17, 0.282],
            [0.29, 0.315],
            [0.37, 0.37],
            [0.41, 0.47],
            [0.43, bottom],
            [0.43, bottom + 0.1],
        ]
    )
    left = right[::-1] * (-1.0, 1.0)
    body = smooth(np.vstack([left, right]), 3)
    shirt = Layer(h, w)
    shirt.fill(place.pts(body), style.shirt)
    side = radial(h, w, place.cx, place.cy + 0.62 * s, 0.42 * s, 0.6 * s)
    shirt.shade((1.0 - 0.22 * _smoothstep(0.55, 1.0, side)).astype(np.float32))
    canvas = _over(canvas, shirt)

    # V-neck with a trim.
    vee = np.array([[-0.074, 0.262], [0.0, 0.37], [0.074, 0.262]])
    skin = np.vstack([vee, [[0.06, 0.24], [-0.06, 0.24]]])
    fill_poly(canvas, place.pts(skin), _scaled(style.skin, 0.9))
    polyline(canvas, place.pts(vee), style.collar, 0.016 * s)
    return np.asarray(cv2.resize(canvas, (width, height), interpolation=cv2.INTER_AREA), np.uint8)


def _long_hair_back(a: float, b: float) -> NDArray[np.float64]:
    dome = ellipse_points(0.0, -0.03, a + 0.05, b + 0.035, 180, 360, 24)
    right = [
        [a + 0.06, 0.08],
        [a + 0.08, 0.20],
        [a + 0.07, 0.29],
        [0.12, 0.28],
        [0.10, 0.22],
        [0.08, 0.10],
    ]
    left = [[-x, y] for x, y in reversed(right)]
    return smooth(np.vstack([dome, right, [[0.0, 0.08]], left]), 2)


def _long_hair_front(a: float, b: float) -> NDArray[np.float64]:
    dome = ellipse_points(0.0, -0.035, a + 0.035, b + 0.025, 180, 360, 24)
    inner = [
        [a + 0.03, 0.02],
        [a + 0.018, 0.13],
        [a - 0.004, 0.10],
        [a - 0.012, 0.0],
        [a - 0.02, -0.06],
        [0.09, -0.105],
        [0.03, -0.13],
        [-0.03, -0.118],
        [-0.09, -0.085],
        [-a + 0.01, -0.02],
        [-a + 0.0, 0.06],
        [-a - 0.008, 0.14],
        [-a - 0.03, 0.03],
    ]
    return smooth(np.vstack([dome, inner]), 3)


def _short_hair(a: float, b: float) -> NDArray[np.float64]:
    th = np.radians(np.linspace(178, 362, 60))
    # Scalloped outline: clumps of hair rather than a smooth cap.
    grow = 0.006 * (0.5 + 0.5 * np.cos(15.0 * th))
    dome = np.stack(
        [(a + 0.024 + grow) * np.cos(th), -0.028 + (b + 0.028 + grow) * np.sin(th)], axis=1
    )
    # A quiff: lift the front-top of the dome a little, off-centre.
    dome[:, 1] -= 0.016 * np.exp(-(((dome[:, 0] - 0.035) / 0.07) ** 2))
    inner = [
        [a + 0.012, 0.0],
        [a + 0.004, 0.045],
        [a - 0.012, 0.035],
        [a - 0.016, -0.03],
        [0.10, -0.078],
        [0.085, -0.096],
        [0.062, -0.08],
        [0.045, -0.102],
        [0.016, -0.088],
        [0.0, -0.11],
        [-0.03, -0.098],
        [-0.05, -0.116],
        [-0.08, -0.1],
        [-0.105, -0.08],
        [-a + 0.016, -0.03],
        [-a + 0.012, 0.035],
        [-a - 0.004, 0.045],
        [-a - 0.012, 0.0],
    ]
    return smooth(np.vstack([dome, inner]), 2)


def render_head(style: CharacterStyle, width: int, height: int) -> Layer:
    k = SUPERSAMPLE
    place = Placement.for_size(width, height, k)
    h, w = height * k, width * k
    s = place.s
    a, b = style.face_w, style.face_h
    head = Layer(h, w)
    if style.hair_style == "long":
        head.fill(place.pts(_long_hair_back(a, b)), _scaled(style.hair, 0.8))
    for side in (-1.0, 1.0):
        head.ellipse(place.pt(side * (a - 0.004), 0.02), (0.026 * s, 0.04 * s), style.skin)
        head.ellipse(
            place.pt(side * (a + 0.004), 0.022), (0.012 * s, 0.022 * s), _scaled(style.skin, 0.85)
        )
    head.fill(place.pts(face_outline(style)), style.skin)

    # Lighting: a soft key light from the upper left, darker towards the edges.
    r = radial(h, w, place.cx - 0.02 * s, place.cy - 0.03 * s, a * s * 1.05, b * s * 1.1)
    head.shade((1.06 - 0.2 * _smoothstep(0.5, 1.15, r)).astype(np.float32))
    for side in (-1.0, 1.0):
        blush = soft_ellipse(
            (h, w), place.pt(side * 0.082, 0.07), (0.028 * s, 0.016 * s), 0.014 * s
        )
        head.tint(blush, style.blush, 0.45)
    if style.stubble:
        jaw = soft_ellipse((h, w), place.pt(0.0, 0.12), (a * 0.92 * s, 0.1 * s), 0.02 * s)
        head.tint(jaw, _scaled(style.skin, 0.7), 0.35)

    nose = ellipse_points(0.0, 0.052, 0.014, 0.01, 25, 155, 12)
    polyline(head.rgb, place.pts(nose), _scaled(style.skin, 0.72), 0.006 * s)
    hair = _long_hair_front(a, b) if style.hair_style == "long" else _short_hair(a, b)
    head.fill(place.pts(hair), style.hair)
    shine = ellipse_points(-0.01, -0.03, a - 0.005, b - 0.01, 215, 250, 10)
    polyline(head.rgb, place.pts(shine), style.hair_shine, 0.009 * s)
    shine = ellipse_points(0.01, -0.03, a - 0.015, b - 0.02, 290, 310, 6)
    polyline(head.rgb, place.pts(shine), style.hair_shine, 0.007 * s)
    return head.downsampled(k)
