"""Animating a photograph's mouth and eyelids with small, local image edits.

`PhotoMouth` drops the jaw by remapping the lower face downwards (a displacement field
fixed per stream, scaled per frame) and paints a soft mouth cavity into the gap.
`PhotoEyelids` draws lids, coloured like the skin above each eye, down over the eyes.
Both touch only a small region of interest, and both leave the image untouched when
their input is 0, so a closed mouth is exactly the original photo.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from .draw import Image, ellipse_points, fill_poly, polyline

__all__ = ["PhotoEyelids", "PhotoMouth"]

Point = tuple[float, float]
_LASH = (38, 28, 28)


def _smoothstep(e0: float, e1: float, x: NDArray[np.float32]) -> NDArray[np.float32]:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return np.asarray(t * t * (3.0 - 2.0 * t), np.float32)


def _clip_box(
    x0: float, y0: float, x1: float, y1: float, shape: tuple[int, ...]
) -> tuple[int, int, int, int]:
    return (
        max(0, int(x0)),
        max(0, int(y0)),
        min(shape[1], int(x1) + 1),
        min(shape[0], int(y1) + 1),
    )


class PhotoMouth:
    """Jaw drop and mouth cavity around `centre` (mouth corners at +-`half_width`).

    The displacement field tears open only between the mouth corners: there the upper
    lip lifts a little and the lower lip drops; beside the mouth the cheeks stretch down
    continuously, so no seam shows outside the opening.
    """

    def __init__(self, shape: tuple[int, ...], centre: Point, half_width: float) -> None:
        mx, my = centre
        hw = half_width
        self.box = _clip_box(mx - 1.7 * hw, my - 0.9 * hw, mx + 1.7 * hw, my + 2.6 * hw, shape)
        x0, y0, x1, y1 = self.box
        self._centre = (mx - x0, my - y0)
        self._hw = hw
        ys, xs = np.mgrid[0 : y1 - y0, 0 : x1 - x0].astype(np.float32)
        self._map_x = xs
        self._ys = ys
        rel = ys - (my - y0)
        across, split = self._profiles(xs[0] - (mx - x0))
        below = 1.0 - _smoothstep(0.4 * hw, 2.5 * hw, rel)
        cheek = 1.0 - _smoothstep(0.0, 0.8 * hw, -rel)
        lip = 1.0 - _smoothstep(0.0, 0.5 * hw, -rel)
        above = (1.0 - split) * across * cheek - 0.25 * split * lip
        self._field = np.where(rel >= 0, across * below, above).astype(np.float32)
        #: how far (pixels) the lower lip drops at mouth_open = 1
        self.max_drop = 0.62 * hw

    def _profiles(self, dx: NDArray[np.float32]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Per-column jaw weight, and where the lips part (1 mid-mouth, 0 at the corners)."""
        across = np.exp(-((dx / (1.6 * self._hw)) ** 2))
        split = np.clip(1.0 - (dx / (0.85 * self._hw)) ** 2, 0.0, 1.0) ** 0.8
        return across.astype(np.float32), split.astype(np.float32)

    def apply(self, img: Image, mouth_open: float) -> None:
        if mouth_open <= 0.0:
            return
        d = self.max_drop * min(1.0, mouth_open)
        x0, y0, x1, y1 = self.box
        roi = img[y0:y1, x0:x1]
        moved = cv2.remap(
            roi,
            self._map_x,
            self._ys - d * self._field,
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        cx, cy = self._centre
        dx = np.linspace(-0.85, 0.85, 17, dtype=np.float32) * self._hw
        across, split = self._profiles(dx)
        # Exactly the edges of the tear the field opened: upper and lower lip.
        top = cy + d * ((1.0 - split) * across - 0.25 * split)
        bottom = cy + d * across
        xs = cx + dx
        mask = np.zeros(roi.shape[:2], np.uint8)
        fill_poly(mask, np.vstack([np.stack([xs, top], 1), np.stack([xs, bottom], 1)[::-1]]), 255)
        teeth = np.zeros_like(mask)
        low = top + np.minimum(0.3 * (bottom - top), 0.12 * self._hw)
        inner = slice(4, 13)
        band = np.vstack(
            [np.stack([xs[inner], top[inner]], 1), np.stack([xs[inner], low[inner]], 1)[::-1]]
        )
        fill_poly(teeth, band, 255)
        a = cv2.GaussianBlur(mask, (3, 3), 0).astype(np.float32)[..., None] / 255.0
        t = cv2.GaussianBlur(teeth, (3, 3), 0).astype(np.float32)[..., None] * (0.7 / 255.0)
        inside = (
            np.array((66, 24, 30), np.float32) * (1.0 - t)
            + np.array((226, 216, 206), np.float32) * t
        )
        out = moved.astype(np.float32) * (1.0 - a) + inside * a
        roi[...] = np.clip(out, 0, 255).astype(np.uint8)


class PhotoEyelids:
    """Lids that close over both eyes; `apply(img, closure)` with closure 0..1.

    What a shut eye looks like is guessed once per stream by inpainting the eyes away
    from the surrounding skin, which keeps the photo's own tones and shading; a blink
    then reveals that image under a descending lid edge.
    """

    def __init__(self, img: Image, eyes: tuple[Point, Point], eye_half_width: float) -> None:
        self._eyes = eyes
        self._ax = eye_half_width * 1.1
        self._ay = eye_half_width * 0.55
        xs = [e[0] for e in eyes]
        ys = [e[1] for e in eyes]
        self.box = _clip_box(
            min(xs) - self._ax * 1.5,
            min(ys) - self._ay * 2.6,
            max(xs) + self._ax * 1.5,
            max(ys) + self._ay * 2.0,
            img.shape,
        )
        x0, y0, x1, y1 = self.box
        holes = np.zeros((y1 - y0, x1 - x0), np.uint8)
        for ex, ey in eyes:
            ellipse_mask = ellipse_points(
                ex - x0, ey - y0, self._ax * 1.1, self._ay * 1.8, 0, 360, 24
            )
            fill_poly(holes, ellipse_mask, 255)
        holes = (holes > 0).astype(np.uint8) * 255
        self._shut: Image = cv2.inpaint(
            np.ascontiguousarray(img[y0:y1, x0:x1]), holes, max(3.0, self._ay), cv2.INPAINT_TELEA
        ).astype(np.float32)

    def apply(self, img: Image, closure: float) -> None:
        if closure <= 0.0:
            return
        c = min(1.0, closure)
        x0, y0, x1, y1 = self.box
        roi = img[y0:y1, x0:x1]
        lid_mask = np.zeros(roi.shape[:2], np.uint8)
        lash = np.zeros(roi.shape[:2], np.uint8)
        for ex, ey in self._eyes:
            # The lid starts above the crease (so no dark crease shows through the soft
            # edge) and its edge runs down to the lower arc when shut.
            upper = ellipse_points(ex - x0, ey - y0, self._ax, self._ay * 1.6, 180, 360, 16)
            lower = ellipse_points(ex - x0, ey - y0, self._ax, self._ay, 180, 0, 16)
            edge = upper + (lower - upper) * c
            fill_poly(lid_mask, np.vstack([upper, edge[::-1]]), 255)
            polyline(lash, edge, 255, max(1.0, self._ay * 0.14))
        # Soft edges: a hard-edged lid looks pasted on.
        a = cv2.GaussianBlur(lid_mask, (5, 5), 0).astype(np.float32)[..., None] / 255.0
        k = cv2.GaussianBlur(lash, (3, 3), 0).astype(np.float32)[..., None] * (0.55 / 255.0)
        out = roi.astype(np.float32) * (1.0 - a) + self._shut * 0.96 * a
        out = out * (1.0 - k) + np.array(_LASH, np.float32) * k
        roi[...] = np.clip(out, 0, 255).astype(np.uint8)
