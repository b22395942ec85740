"""The photo rig: a portrait photo animated by visemes, blinks and head pose.

Set-up (once per photo and frame size, about a tenth of a second): the face mesh finds
the face; the photo is framed so the face fills about 40 % of the frame height; the
selfie segmenter separates the person, whose place in a background plate is inpainted
(so the background stays put while the head sways); thin-plate-spline fields for every
viseme and for a blink are precomputed over the face.

Per frame, `render(visemes, blink, pose)` is pure: the weighted sum of the fields warps
the face (`cv2.remap` of the face region only), a mouth cavity (throat, tongue, upper
teeth) fades in where the lips part beyond their rest gap, and the person layer is
turned and shifted over the plate. At rest (rest viseme, open eyes, no pose) the frame
is exactly the framed photo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from openreplica.plugins.visemes import VISEMES

from .face_shapes import (
    EYE_CORNERS,
    HANDLES,
    LOWER_INNER,
    LOWER_LID,
    UPPER_INNER,
    UPPER_LID,
    MouthFrame,
    viseme_bases,
)
from .facemesh import FaceModels, MeshLandmarks
from .motion import HeadPose
from .tps import SplineFields

__all__ = ["NoFaceFound", "PhotoRig", "frame_photo"]

Image = NDArray[np.uint8]
F64 = NDArray[np.float64]

_FACE_FRACTION = 0.42  # forehead-to-chin height / frame height
_FACE_CENTRE_Y = 0.46  # where the face's centre sits, as a fraction of the height
_REST = VISEMES.index("rest")
#: pixels a viseme moves by less than this (the upper face) are not remapped
_TRIM_PX = 0.05
_THROAT = np.array((44, 20, 20), np.float32)
_TONGUE = np.array((128, 58, 56), np.float32)
_TEETH = np.array((226, 218, 208), np.float32)


class NoFaceFound(ValueError):
    """The photo has no face the mesh could find."""


def frame_photo(
    rgb: Image, mesh: MeshLandmarks, width: int, height: int
) -> tuple[Image, NDArray[np.float64]]:
    """The photo scaled and shifted so the face is centred at a set size, and the
    2x3 matrix that maps photo pixels to frame pixels."""
    pts = mesh.points[:, :2]
    face_h = float(np.linalg.norm(pts[152] - pts[10]))
    k = _FACE_FRACTION * height / face_h
    k = max(k, width / rgb.shape[1], height / rgb.shape[0])  # always cover the frame
    cx, cy = (pts[152] + pts[10]) / 2.0
    ox = min(0.0, max(width - k * rgb.shape[1], width / 2.0 - k * cx))
    oy = min(0.0, max(height - k * rgb.shape[0], height * _FACE_CENTRE_Y - k * cy))
    m = np.array([[k, 0.0, ox], [0.0, k, oy]])
    interp = cv2.INTER_AREA if k < 1.0 else cv2.INTER_LINEAR
    framed = cv2.warpAffine(rgb, m, (width, height), flags=interp, borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(framed, np.uint8), m


@dataclass(frozen=True, slots=True)
class _Mouth:
    """The inner lip contour at rest and per basis, to place the cavity."""

    upper: F64  # (b, 11, 2) forward positions per basis (row 0 unused) minus rest
    lower: F64
    upper_rest: F64  # (11, 2)
    lower_rest: F64


class PhotoRig:
    """One photo at one frame size. Not shared between threads (scratch buffers)."""

    def __init__(self, rgb: Image, models: FaceModels, width: int, height: int) -> None:
        if width < 64 or height < 64:
            raise ValueError(f"photo frame too small: {width}x{height}")
        mesh = models.landmarks(rgb)
        if mesh is None or mesh.presence < 0.5:
            raise NoFaceFound("no face found in the photo")
        self.width, self.height = width, height
        self.base, to_frame = frame_photo(rgb, mesh, width, height)
        self.base.setflags(write=False)
        pts = mesh.points[:, :2] @ to_frame[:, :2].T + to_frame[:, 2]
        #: the rest mesh in frame pixels
        self.landmarks = pts
        self.mouth_frame = mf = MouthFrame.from_mesh(pts)

        # Person layer and the background plate behind it.
        person = models.segmenter.mask(self.base)
        self.person_alpha = np.clip((person - 0.15) / 0.7, 0.0, 1.0).astype(np.float32)
        self.plate = _background_plate(self.base, person)

        # The face region the warp may touch: the whole mesh plus margins, with zero
        # displacement pinned along its border.
        lo, hi = pts.min(0), pts.max(0)
        margin = 0.35 * (hi - lo)
        x0, y0 = np.maximum(0, np.floor(lo - margin)).astype(int)
        x1, y1 = np.minimum((width, height), np.ceil(hi + margin)).astype(int)
        self.roi = (int(x0), int(y0), int(x1), int(y1))
        border = _border_points(self.roi, 10)
        knots = np.vstack([pts[list(HANDLES)], border])
        knots, keep = _spread(knots, 1.5)
        bases = viseme_bases(pts)
        bases = np.concatenate([bases, np.zeros((len(bases), len(border), 2))], 1)[:, keep]
        self._fields = SplineFields(knots, bases, self.roi, step=4, trim=_TRIM_PX)
        self.roi = self._fields.roi  # only where the lips, jaw and chin move
        self._n_visemes = len(VISEMES)
        self._lids = _Eyelids(self.base, pts)

        index = {h: i for i, h in enumerate(HANDLES)}
        vb = viseme_bases(pts)
        up = [index[i] for i in UPPER_INNER]
        low = [index[i] for i in LOWER_INNER]
        self._mouth = _Mouth(vb[:, up], vb[:, low], pts[list(UPPER_INNER)], pts[list(LOWER_INNER)])
        self._rest_gap = float(np.linalg.norm(pts[14] - pts[13]))
        #: colour of drawn teeth: the photo's own when they show at rest
        self._teeth = _teeth_colour(self.base, pts) if self._rest_gap > 0.12 * mf.hw else _TEETH
        #: the photo's own open mouth (teeth), carried with the upper lip when it opens
        self._inner = _inner_patch(self.base, pts) if self._rest_gap > 0.12 * mf.hw else None

    # ------------------------------------------------------------------ frame

    def render(self, visemes: F64, blink: float, pose: HeadPose) -> Image:
        """A frame: `visemes` weights over `VISEMES` (sum 1), `blink` 0 (open) .. 1
        (shut), `pose` the head's offset from rest. Pure: same inputs, same frame."""
        w = np.array(visemes, np.float64)
        w[_REST] = 0.0  # rest moves nothing
        blink = min(1.0, max(0.0, blink))
        still = pose.dx == 0.0 and pose.dy == 0.0 and pose.roll_deg == 0.0
        frame = self.base.copy()
        if w.any():
            x0, y0, x1, y1 = self.roi
            mx, my = self._fields.maps(w)
            frame[y0:y1, x0:x1] = cv2.remap(
                self.base[y0:y1, x0:x1], mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
            self._draw_cavity(frame, w)
        if blink > 0.0:
            self._lids.apply(frame, blink)
        return frame if still else self._posed(frame, pose)

    def _draw_cavity(self, frame: Image, weights: F64) -> None:
        """Throat, tongue and upper teeth inside the lips where they part beyond rest."""
        upper = self._mouth.upper_rest + np.tensordot(weights, self._mouth.upper, axes=1)
        lower = self._mouth.lower_rest + np.tensordot(weights, self._mouth.lower, axes=1)
        gap = float(np.linalg.norm(lower[5] - upper[5]))
        hw = self.mouth_frame.hw
        fade = min(1.0, max(0.0, (gap - self._rest_gap) / (0.12 * hw)))
        if fade <= 0.0:
            return
        poly = np.vstack([upper, lower[::-1]])
        bx0, by0 = np.floor(poly.min(0)).astype(int) - 2
        bx1, by1 = np.ceil(poly.max(0)).astype(int) + 3
        bx0, by0 = max(bx0, 0), max(by0, 0)
        bx1, by1 = min(bx1, self.width), min(by1, self.height)
        if bx1 <= bx0 or by1 <= by0:
            return
        roi = frame[by0:by1, bx0:bx1]
        h, w = roi.shape[:2]
        shift = np.array([bx0, by0])
        scale = 4  # sub-pixel polygons via OpenCV's fixed-point coordinates
        mask = np.zeros((h, w), np.uint8)
        cv2.fillPoly(mask, [np.round((poly - shift) * scale).astype(np.int32)], 255,
                     cv2.LINE_AA, shift=2)  # fmt: skip
        # Upper teeth: a band under the upper lip; tongue: a glow low in the mouth.
        teeth = np.zeros((h, w), np.uint8)
        depth = min(0.22 * hw, 0.45 * gap)
        band = np.vstack([upper[2:9], (upper[2:9] + np.array([0.0, depth]))[::-1]])
        cv2.fillPoly(teeth, [np.round((band - shift) * scale).astype(np.int32)], 255,
                     cv2.LINE_AA, shift=2)  # fmt: skip
        yy = np.arange(h, dtype=np.float32)[:, None]
        mid_low = lower[5, 1] - by0
        tongue = np.clip(1.0 - np.abs(yy - mid_low + 0.25 * gap) / (0.35 * gap + 1e-6), 0, 1)
        a = cv2.GaussianBlur(mask, (3, 3), 0).astype(np.float32)[..., None] * (fade / 255.0)
        t = cv2.GaussianBlur(teeth, (3, 3), 0).astype(np.float32)[..., None] / 255.0
        inside = _THROAT + (_TONGUE - _THROAT) * (0.7 * tongue[..., None])
        if self._inner is None:
            inside = inside * (1.0 - t) + self._teeth * t
        else:  # the photo's own teeth, moved with the middle of the upper lip
            patch, pmask, (ox, oy) = self._inner
            dx, dy = upper[5] - self._mouth.upper_rest[5]
            m = np.array([[1.0, 0.0, ox + dx - bx0], [0.0, 1.0, oy + dy - by0]])
            own = cv2.warpAffine(patch, m, (w, h), flags=cv2.INTER_LINEAR)
            own_a = cv2.warpAffine(pmask, m, (w, h), flags=cv2.INTER_LINEAR)[..., None]
            inside = inside * (1.0 - own_a) + own.astype(np.float32) * own_a
        out = roi.astype(np.float32) * (1.0 - a) + inside * a
        roi[...] = np.clip(out, 0, 255).astype(np.uint8)

    def _posed(self, frame: Image, pose: HeadPose) -> Image:
        """The person layer turned about the neck and shifted, over the still plate."""
        pts = self.landmarks
        px, py = pts[152] + 0.6 * (pts[152] - pts[1])  # a pivot low in the neck
        a = math.radians(pose.roll_deg)
        c, s = math.cos(a), math.sin(a)
        m = np.array(
            [[c, -s, px - c * px + s * py + pose.dx], [s, c, py - s * px - c * py + pose.dy]]
        )
        size = (self.width, self.height)
        person = cv2.warpAffine(frame, m, size, flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
        alpha = cv2.warpAffine(self.person_alpha, m, size, flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
        # One pass in OpenCV: exact where alpha is 0 (background) or 1.
        out = cv2.blendLinear(person, self.plate, alpha, 1.0 - alpha)
        return np.asarray(out, np.uint8)


class _Eyelids:
    """Lids that slide down over the eyes along the mesh's own lid contours.

    What a shut eye looks like is guessed once by inpainting each eye from the skin
    around it; a blink reveals that image above a descending lid edge with a lash line.
    """

    def __init__(self, frame: Image, pts: F64) -> None:
        self._upper = pts[list(UPPER_LID)].reshape(2, 7, 2)
        lower = pts[list(LOWER_LID)].reshape(2, 7, 2)
        corners = pts[list(EYE_CORNERS)].reshape(2, 2, 2)
        # Each eye's lid: from the outer corner along the upper lid to the inner corner.
        self._upper = np.stack(
            [np.vstack([corners[e, 0], self._upper[e], corners[e, 1]]) for e in range(2)]
        )
        self._lower = np.stack(
            [np.vstack([corners[e, 0], lower[e], corners[e, 1]]) for e in range(2)]
        )
        span = float(np.linalg.norm(corners[0, 0] - corners[0, 1]))
        lo = self._upper.reshape(-1, 2).min(0) - 0.4 * span
        hi = self._lower.reshape(-1, 2).max(0) + 0.4 * span
        x0, y0 = np.maximum(0, np.floor(lo)).astype(int)
        x1 = min(frame.shape[1], int(np.ceil(hi[0])))
        y1 = min(frame.shape[0], int(np.ceil(hi[1])))
        self.box = (int(x0), int(y0), x1, y1)
        holes = np.zeros((y1 - y0, x1 - x0), np.uint8)
        for e in range(2):
            eye = np.vstack([self._upper[e], self._lower[e][::-1]]) - [x0, y0]
            cv2.fillPoly(holes, [np.round(eye).astype(np.int32)], 255)
        grow = max(3, round(0.22 * span))
        holes = cv2.dilate(holes, np.ones((2 * grow + 1,) * 2, np.uint8))

        roi = np.ascontiguousarray(frame[y0:y1, x0:x1])
        self._shut = cv2.inpaint(roi, holes, max(3.0, 0.2 * span), cv2.INPAINT_TELEA).astype(
            np.float32
        )
        self._lash = max(1, round(0.05 * span))
        self._lift = max(2.0, 0.2 * span)

    def apply(self, frame: Image, closure: float) -> None:
        x0, y0, x1, y1 = self.box
        roi = frame[y0:y1, x0:x1]
        lid = np.zeros(roi.shape[:2], np.uint8)
        lash = np.zeros_like(lid)
        for e in range(2):
            # The lid starts a little above its rest line, so no seam shows at the top.
            top = self._upper[e] + np.array([0.0, -self._lift]) - [x0, y0]
            edge = self._upper[e] + (self._lower[e] - self._upper[e]) * closure - [x0, y0]
            edge[1:-1, 1] += closure * 1.0  # shut, the lid covers the lower lash line
            cv2.fillPoly(lid, [np.round(np.vstack([top, edge[::-1]]) * 4).astype(np.int32)],
                         255, cv2.LINE_AA, shift=2)  # fmt: skip
            cv2.polylines(lash, [np.round(edge * 4).astype(np.int32)], False, 255,
                          self._lash, cv2.LINE_AA, shift=2)  # fmt: skip
        a = cv2.GaussianBlur(lid, (3, 3), 0).astype(np.float32)[..., None] / 255.0
        k = cv2.GaussianBlur(lash, (3, 3), 0).astype(np.float32)[..., None] * (0.6 / 255.0)
        out = roi.astype(np.float32) * (1.0 - a) + self._shut * 0.97 * a
        out = out * (1.0 - k) + np.array((40, 28, 26), np.float32) * k
        roi[...] = np.clip(out, 0, 255).astype(np.uint8)


def _background_plate(frame: Image, person: NDArray[np.float32]) -> Image:
    """The frame with the person inpainted away (at quarter size, then scaled back)."""
    # Only where the person is or may sway to: a hole that reaches past that would
    # change background the head never covers.
    grow = max(3, min(10, frame.shape[0] // 40))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1,) * 2)
    hole = np.asarray(cv2.dilate((person > 0.15).astype(np.uint8) * 255, disc), np.uint8)
    small = cv2.resize(frame, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    small_hole = cv2.resize(hole, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_NEAREST)
    filled = cv2.inpaint(small, small_hole, 5, cv2.INPAINT_TELEA)
    filled = cv2.resize(filled, (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_LINEAR)
    plate = np.where((hole > 0)[..., None], filled, frame)
    return np.asarray(plate, np.uint8)


def _inner_patch(frame: Image, pts: F64) -> tuple[Image, NDArray[np.float32], tuple[float, float]]:
    """What shows between the lips at rest (a patch, its soft mask and its origin)."""
    poly = np.vstack([pts[list(UPPER_INNER)], pts[list(LOWER_INNER)][::-1]])
    x0, y0 = np.floor(poly.min(0)).astype(int) - 1
    x1, y1 = np.ceil(poly.max(0)).astype(int) + 2
    x0, y0 = max(x0, 0), max(y0, 0)
    patch = np.ascontiguousarray(frame[y0:y1, x0:x1])
    drawn = np.zeros(patch.shape[:2], np.uint8)
    cv2.fillPoly(drawn, [np.round(poly - [x0, y0]).astype(np.int32)], 255)
    mask = cv2.erode(drawn, np.ones((3, 3), np.uint8))  # keep the lips' own edge out
    soft = cv2.GaussianBlur(mask, (3, 3), 0).astype(np.float32) / 255.0
    return patch, soft, (float(x0), float(y0))


def _teeth_colour(frame: Image, pts: F64) -> NDArray[np.float32]:
    """The photo's teeth: the brightest pixels between the lips at rest."""
    poly = np.vstack([pts[list(UPPER_INNER)], pts[list(LOWER_INNER)][::-1]])
    mask = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 255)
    inside = frame[mask > 0].astype(np.float32)
    if len(inside) < 6:
        return _TEETH
    bright = inside[np.argsort(inside.sum(1))[-max(3, len(inside) // 4) :]]
    return np.asarray(bright.mean(0) * 0.95, np.float32)


def _border_points(roi: tuple[int, int, int, int], n: int) -> F64:
    x0, y0, x1, y1 = roi
    xs = np.linspace(x0, x1, n)
    ys = np.linspace(y0, y1, n)[1:-1]
    return np.vstack(
        [
            np.stack([xs, np.full(n, y0)], 1),
            np.stack([xs, np.full(n, y1)], 1),
            np.stack([np.full(n - 2, x0), ys], 1),
            np.stack([np.full(n - 2, x1), ys], 1),
        ]
    ).astype(np.float64)


def _spread(points: F64, min_distance: float) -> tuple[F64, NDArray[np.intp]]:
    """Drop points closer than `min_distance` to an earlier one (a spline through two
    nearly equal knots with different displacements would ring)."""
    keep: list[int] = []
    for i, p in enumerate(points):
        if all(np.hypot(*(p - points[j])) >= min_distance for j in keep):
            keep.append(i)
    idx = np.array(keep, np.intp)
    return points[idx], idx
