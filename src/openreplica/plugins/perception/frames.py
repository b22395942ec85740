"""Camera frames as base64 JPEG: for vision-model requests and for perception events.

`jpeg_frames` fits a list of frames into a byte budget (the base64 text of all of them):
it tries sizes and qualities from large to small, and drops the oldest frames last, so a
`conversation.perception_tool_call` always fits the transport's message limit.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

import cv2
import numpy as np

from openreplica.plugins.perception.base import Image

__all__ = ["data_url", "encode_jpeg", "jpeg_frames"]

_SIDES = (640, 480, 320, 240, 160, 96)
_QUALITIES = (80, 60, 40)


def encode_jpeg(image: Image, max_side: int = 640, quality: int = 80) -> bytes:
    """RGB uint8 -> JPEG bytes, downscaled so its longer side is at most `max_side`."""
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8)
    bgr = cv2.cvtColor(np.ascontiguousarray(image[..., :3]), cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(buf)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def data_url(image: Image, max_side: int = 512, quality: int = 75) -> str:
    """A `data:image/jpeg;base64,…` URL, the image input of OpenAI chat completions."""
    return "data:image/jpeg;base64," + b64(encode_jpeg(image, max_side, quality))


def jpeg_frames(images: Sequence[Image], budget: int) -> list[str]:
    """Base64 JPEGs of `images` (oldest first) whose total length is at most `budget`.

    The largest size and quality that fits wins; if even the smallest does not fit all
    frames, the oldest are dropped. Returns [] only when not even one tiny frame fits.
    """
    frames = list(images)
    while frames:
        for side in _SIDES:
            for quality in _QUALITIES:
                encoded = [b64(encode_jpeg(img, side, quality)) for img in frames]
                if sum(len(x) for x in encoded) <= budget:
                    return encoded
        frames = frames[1:]
    return []
