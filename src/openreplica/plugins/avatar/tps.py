"""Thin-plate-spline warps with fixed knots, precomputed so a frame costs a weighted sum.

The knots are the face's handles at rest. A warp is given by a displacement per knot;
because the spline is linear in those displacements, every *basis* displacement set
(one per viseme, one for a blink) is turned into a dense field once, and a frame's field
is just the weighted sum of the basis fields. Fields are computed on a coarse grid over
a region of interest and upsampled; the backward map (which source pixel lands where)
uses one fixed-point step: source(x) = x - d(x - d(x)). With `trim`, the region shrinks
to where some basis moves pixels by at least `trim` px (the lips, jaw and chin: about
the lower half of the face), so a frame remaps only that.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

__all__ = ["SplineFields"]

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]


def _kernel(r2: F64) -> F64:
    with np.errstate(divide="ignore", invalid="ignore"):
        k = 0.5 * r2 * np.log(r2)  # r^2 log r, written with r^2
    return np.nan_to_num(k, nan=0.0, posinf=0.0, neginf=0.0)


class SplineFields:
    """Dense displacement fields over `roi` (x0, y0, x1, y1) for basis displacements.

    `knots` (n, 2) in frame pixels; `bases` (b, n, 2): per basis, each knot's
    displacement (forward: where that point of the photo moves to).
    """

    def __init__(
        self,
        knots: F64,
        bases: F64,
        roi: tuple[int, int, int, int],
        step: int = 4,
        smoothing: float = 0.5,
        trim: float = 0.0,
    ) -> None:
        n = len(knots)
        x0, y0, x1, y1 = roi
        self.roi = roi
        self.step = step
        gx = np.arange(x0, x1 + step, step, dtype=np.float64)
        gy = np.arange(y0, y1 + step, step, dtype=np.float64)
        self.grid_shape = (len(gy), len(gx))
        grid = np.stack(np.meshgrid(gx, gy), -1).reshape(-1, 2)
        d2 = ((knots[:, None, :] - knots[None, :, :]) ** 2).sum(-1)
        system = np.zeros((n + 3, n + 3))
        system[:n, :n] = _kernel(d2) + smoothing * np.eye(n)
        affine = np.hstack([np.ones((n, 1)), knots])
        system[:n, n:] = affine
        system[n:, :n] = affine.T
        inv = np.linalg.inv(system)[:, :n]  # only the knot values are ever non-zero
        g2 = ((grid[:, None, :] - knots[None, :, :]) ** 2).sum(-1)
        phi = np.hstack([_kernel(g2), np.ones((len(grid), 1)), grid])
        to_grid = phi @ inv  # (grid points, n)
        # (bases, gh, gw, 2) forward displacement at each grid point
        self.fields = (
            np.einsum("gn,bnc->bgc", to_grid, bases)
            .reshape(len(bases), *self.grid_shape, 2)
            .astype(np.float32)
        )
        if trim > 0.0:
            self._trim(trim)
        x0, y0, x1, y1 = self.roi
        gh, gw = self.grid_shape
        self._gx, self._gy = np.meshgrid(
            np.arange(gw, dtype=np.float32), np.arange(gh, dtype=np.float32)
        )
        w, h = x1 - x0, y1 - y0
        self._px, self._py = np.meshgrid(
            np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)
        )
        self._ux, self._uy = self._px / step, self._py / step

    def _trim(self, threshold: float) -> None:
        """Keep the grid rows and columns where some basis moves a point by at least
        `threshold` px, plus one grid cell around them."""
        moving = np.abs(self.fields).max(axis=(0, 3)) >= threshold
        if not moving.any():
            return
        rows, cols = np.nonzero(moving.any(axis=1))[0], np.nonzero(moving.any(axis=0))[0]
        gh, gw = self.grid_shape
        r0, r1 = max(0, int(rows[0]) - 1), min(gh - 1, int(rows[-1]) + 1)
        c0, c1 = max(0, int(cols[0]) - 1), min(gw - 1, int(cols[-1]) + 1)
        x0, y0, x1, y1 = self.roi
        step = self.step
        self.roi = (
            x0 + c0 * step,
            y0 + r0 * step,
            min(x1, x0 + c1 * step),
            min(y1, y0 + r1 * step),
        )
        self.fields = np.ascontiguousarray(self.fields[:, r0 : r1 + 1, c0 : c1 + 1])
        self.grid_shape = (r1 - r0 + 1, c1 - c0 + 1)

    def maps(self, weights: F64) -> tuple[F32, F32]:
        """`cv2.remap` maps (ROI-relative source coordinates) for a weighted basis sum."""
        d = np.tensordot(weights.astype(np.float32), self.fields, axes=1)
        s = float(self.step)
        # d at (x - d(x)): sample the coarse field at the moved grid positions.
        back = cv2.remap(
            d,
            self._gx - d[..., 0] / s,
            self._gy - d[..., 1] / s,
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        # Pixels from the coarse field (grid point i sits at pixel i * step).
        full = cv2.remap(back, self._ux, self._uy, cv2.INTER_LINEAR)
        return self._px - full[..., 0], self._py - full[..., 1]
