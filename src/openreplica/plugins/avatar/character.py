"""Built-in stylised replicas: `CharacterAvatar` and its per-conversation stream.

Per frame the stream (1) copies the pre-rendered backdrop, (2) warps the pre-rendered
head layer by the head pose and composites it (one `warpAffine` plus one multiply-add
over the head's bounding box only), and (3) draws eyes, brows and mouth as a handful of
small anti-aliased polygons. Rendering is a pure function of (seed, t, mouth_open):
nothing carries over between frames, so lips close the very frame audio stops.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .draw import Image, Layer
from .features import EYE_BOX, MOUTH_BOX, draw_brows, draw_eyes, draw_mouth
from .geometry import Box, FaceTransform, Placement, motion_box
from .layers import render_backdrop, render_head
from .motion import BlinkSchedule, GazeSchedule, HeadMotion
from .style import CharacterStyle

__all__ = ["DEFAULT_HEIGHT", "DEFAULT_WIDTH", "CharacterAvatar", "CharacterStream"]

#: chosen so that render + VP8 encode of 5 conversations fits 2 cores (see bench/avatar.py)
DEFAULT_WIDTH = 384
DEFAULT_HEIGHT = 384

_MAX_ROLL_DEG = 2.6  # bound of HeadMotion's roll, with a little slack


class CharacterStream:
    """One conversation's renderer for a stylised character."""

    def __init__(
        self,
        style: CharacterStyle,
        width: int,
        height: int,
        seed: int = 0,
        motion: float = 1.0,
        layers: tuple[Image, Layer] | None = None,
    ) -> None:
        if width < 32 or height < 32:
            raise ValueError(f"avatar frame too small: {width}x{height}")
        self.width = width
        self.height = height
        self.style = style
        self._place = Placement.for_size(width, height)
        self._motion = HeadMotion(seed, self._place.s, motion)
        self._blinks = BlinkSchedule(seed)
        self._gaze = GazeSchedule(seed)
        if layers is None:
            layers = (render_backdrop(style, width, height), render_head(style, width, height))
        for array in (layers[0], layers[1].rgb, layers[1].alpha):
            array.setflags(write=False)  # shared between streams of one avatar
        #: the static (backdrop, head) layers, reusable by streams of the same size
        self.layers = layers
        self._backdrop, head = layers
        pad = self._motion.max_offset() + 0.5 * self._place.s * math.radians(_MAX_ROLL_DEG) + 2
        ys, xs = np.nonzero(head.alpha)
        x0, y0 = max(0, int(xs.min() - pad)), max(0, int(ys.min() - pad))
        x1, y1 = min(width, int(xs.max() + pad + 1)), min(height, int(ys.max() + pad + 1))
        self._head_origin = (x0, y0)
        # Premultiplied colour and coverage in one array: a single warp per frame.
        self._head = np.dstack([head.rgb[y0:y1, x0:x1], head.alpha[y0:y1, x0:x1]])

        bound = self._motion.max_offset()
        self.mouth_box: Box = motion_box(
            self._place, MOUTH_BOX, bound, _MAX_ROLL_DEG, width, height
        )
        self.eye_box: Box = motion_box(self._place, EYE_BOX, bound, _MAX_ROLL_DEG, width, height)

    def eyelid_closure(self, t: float) -> float:
        """0 (open) .. 1 (shut): exposed so callers and tests can tell when a blink happens."""
        return self._blinks.closure(t)

    def render(self, t: float, mouth_open: float) -> Image:
        xf = FaceTransform(self._place, self._motion.pose(t))
        frame = self._backdrop.copy()
        x0, y0 = self._head_origin
        h, w = self._head.shape[:2]
        warped = cv2.warpAffine(
            self._head,
            xf.roi_matrix(x0, y0),
            (w, h),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0, 0, 0, 0),
        )
        roi = frame[y0 : y0 + h, x0 : x0 + w]
        # out = head (premultiplied) + backdrop * (1 - alpha), all in OpenCV's SIMD loops.
        inv = cv2.cvtColor(255 - warped[..., 3], cv2.COLOR_GRAY2RGB)
        cv2.multiply(roi, inv, dst=roi, scale=1.0 / 255.0)
        cv2.add(roi, np.ascontiguousarray(warped[..., :3]), dst=roi)

        mouth = min(1.0, max(0.0, float(mouth_open)))
        draw_brows(frame, xf, self.style, 0.006 * mouth)
        draw_eyes(frame, xf, self.style, self._blinks.closure(t), self._gaze.gaze(t))
        draw_mouth(frame, xf, self.style, mouth)
        return frame


class CharacterAvatar:
    """A built-in stylised replica (the `Avatar` plugin contract)."""

    kind = "character"

    def __init__(self, style: CharacterStyle, motion: float = 1.0) -> None:
        self.style = style
        self.replica_id = style.replica_id
        self.name = style.name
        self._motion = motion
        # Pre-rendered static layers per frame size, shared (read-only) by all streams:
        # a new conversation then costs no drawing at all.
        self._layers: dict[tuple[int, int], tuple[Image, Layer]] = {}

    def create_stream(
        self, width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT, seed: int = 0
    ) -> CharacterStream:
        layers = self._layers.get((width, height))
        stream = CharacterStream(self.style, width, height, seed, self._motion, layers)
        if layers is None and len(self._layers) < 8:
            self._layers[(width, height)] = stream.layers
        return stream

    def __repr__(self) -> str:
        return f"CharacterAvatar({self.replica_id!r}, name={self.name!r})"
