"""The moving parts of a stylised face, drawn straight into the frame every frame.

Everything is built as polygons in face units and pushed through the frame's
`FaceTransform`, so eyes and mouth follow the head's sway and roll exactly. These few
small anti-aliased fills are the whole per-frame drawing cost.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .draw import Image, ellipse_points, fill_poly, polyline
from .geometry import FaceTransform
from .style import RGB, CharacterStyle

__all__ = ["EYE_BOX", "MOUTH_BOX", "draw_brows", "draw_eyes", "draw_mouth"]

EYE_X, EYE_Y = 0.062, 0.005
EYE_AX, EYE_AY = 0.02, 0.027
MOUTH_Y = 0.108
MOUTH_HALF_W = 0.04
MOUTH_MAX_OPEN = 0.055
#: local (face-unit) boxes around the parts, without motion
EYE_BOX = (-EYE_X - 0.03, EYE_Y - 0.035, EYE_X + 0.03, EYE_Y + 0.035)
MOUTH_BOX = (-0.06, MOUTH_Y - 0.02, 0.06, MOUTH_Y + 0.085)

_WHITE = (255, 255, 255)


def _mix(c: RGB, d: RGB, k: float) -> tuple[int, int, int]:
    return (
        round(c[0] + (d[0] - c[0]) * k),
        round(c[1] + (d[1] - c[1]) * k),
        round(c[2] + (d[2] - c[2]) * k),
    )


def _oval(cx: float, cy: float, ax: float, ay: float, n: int = 28) -> NDArray[np.float64]:
    return ellipse_points(cx, cy, ax, ay, 0, 360, n)


def draw_eyes(
    frame: Image,
    xf: FaceTransform,
    style: CharacterStyle,
    closure: float,
    gaze: tuple[float, float],
) -> None:
    s = xf.s
    gx, gy = gaze[0] * 0.006, gaze[1] * 0.004
    openness = 1.0 - closure
    for side in (-1.0, 1.0):
        cx, cy = side * EYE_X, EYE_Y
        if openness < 0.18:
            # Shut: the lid is a soft downward curve.
            lid = ellipse_points(cx, cy + 0.004, EYE_AX * 1.05, EYE_AY * 0.3, 10, 170, 12)
            polyline(frame, xf.pts(lid), style.eye, 0.0065 * s)
            continue
        ay = EYE_AY * openness
        # The lid comes down from the top, so the eye's centre drops as it closes.
        ey = cy + EYE_AY - ay + gy
        ex = cx + gx
        fill_poly(frame, xf.pts(_oval(ex, ey, EYE_AX, ay)), style.eye)
        fill_poly(
            frame,
            xf.pts(_oval(ex, ey + ay * 0.3, EYE_AX * 0.68, ay * 0.55)),
            _mix(style.eye, (150, 120, 110), 0.35),
        )
        fill_poly(frame, xf.pts(_oval(ex, ey + ay * 0.18, EYE_AX * 0.42, ay * 0.42)), style.eye)
        if openness > 0.45:
            hl = _oval(ex + EYE_AX * 0.32, ey - ay * 0.38, EYE_AX * 0.3, ay * 0.24, 16)
            fill_poly(frame, xf.pts(hl), _WHITE)
            hl = _oval(ex - EYE_AX * 0.35, ey + ay * 0.42, EYE_AX * 0.14, ay * 0.11, 12)
            fill_poly(frame, xf.pts(hl), _WHITE)
        if style.lashes:
            top = ellipse_points(ex, ey, EYE_AX * 1.08, ay * 1.06, 200, 330, 14)
            flick = np.array(
                [
                    [ex + side * EYE_AX * 1.02, ey - ay * 0.45],
                    [ex + side * EYE_AX * 1.45, ey - ay * 0.8],
                ]
            )
            polyline(frame, xf.pts(top), style.eye, 0.006 * s)
            polyline(frame, xf.pts(flick), style.eye, 0.005 * s)


def draw_brows(frame: Image, xf: FaceTransform, style: CharacterStyle, lift: float) -> None:
    s = xf.s
    for side in (-1.0, 1.0):
        arc = ellipse_points(0.0, 0.0, 0.028, 0.009, 205, 335, 10)
        # Outer ends sit a touch lower: a relaxed, friendly brow.
        arc[:, 1] += np.where(arc[:, 0] * side > 0, 0.004 * arc[:, 0] / 0.028 * side, 0.0)
        arc += (side * (EYE_X + 0.002), -0.038 - lift)
        polyline(frame, xf.pts(arc), style.brow, 0.0085 * s)


def _mouth_curves(m: float) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """x positions, top-lip and bottom-lip curves (face units) for opening m in 0..1."""
    half_w = MOUTH_HALF_W * (1.0 - 0.15 * m)  # lips purse slightly as the jaw drops
    u = np.linspace(-1.0, 1.0, 17)
    bell = (1.0 - u * u) ** 0.85
    smile = 0.009
    h = MOUTH_MAX_OPEN * m
    top = MOUTH_Y + (smile - 0.22 * h) * bell
    bottom = MOUTH_Y + (smile + 0.78 * h) * bell
    return u * half_w, top, bottom


def draw_mouth(frame: Image, xf: FaceTransform, style: CharacterStyle, mouth_open: float) -> None:
    s = xf.s
    m = min(1.0, max(0.0, mouth_open))
    x, top, bottom = _mouth_curves(m)
    line = _mix(style.lips, (60, 20, 25), 0.45)
    if m > 0.0 and (bottom - top).max() * s >= 0.6:
        cavity = np.vstack([np.stack([x, top], 1), np.stack([x, bottom], 1)[::-1]])
        fill_poly(frame, xf.pts(cavity), (84, 26, 38))
        gap = bottom - top
        inner = slice(3, 14)
        teeth_low = top + np.minimum(0.3 * gap, 0.011)
        teeth = np.vstack(
            [np.stack([x[inner], top[inner]], 1), np.stack([x[inner], teeth_low[inner]], 1)[::-1]]
        )
        fill_poly(frame, xf.pts(teeth), (250, 246, 240))
        tongue_top = bottom - 0.42 * gap * (1.0 - (x / x.max()) ** 2)
        tongue = np.vstack(
            [
                np.stack([x[inner], tongue_top[inner]], 1),
                np.stack([x[inner], bottom[inner]], 1)[::-1],
            ]
        )
        fill_poly(frame, xf.pts(tongue), (200, 84, 100))
        polyline(frame, xf.pts(cavity), line, 0.0045 * s, closed=True)
    else:
        polyline(frame, xf.pts(np.stack([x, top], 1)), line, 0.0055 * s)
    # Lower lip: a short soft stroke hugging the bottom of the mouth.
    lip = np.stack([x[5:12] * 0.92, bottom[5:12] + 0.0075], 1)
    polyline(frame, xf.pts(lip), _mix(style.lips, style.skin, 0.5), 0.0075 * s)
