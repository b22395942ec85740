"""JPEG frames fit the event budget and decode."""

from __future__ import annotations

import base64

import cv2
import numpy as np
from skimage import data

from openreplica.plugins.perception.frames import data_url, jpeg_frames


def _decode(b64: str) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(base64.b64decode(b64), np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image


def test_frames_fit_the_budget_largest_first() -> None:
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8)  # compresses badly
    frames = jpeg_frames([noise, noise], 200 * 1024)
    assert len(frames) == 2 and sum(map(len, frames)) <= 200 * 1024
    small = jpeg_frames([data.astronaut()], 200 * 1024)
    assert _decode(small[0]).shape == (512, 512, 3)  # fits as is: not downscaled


def test_a_tight_budget_shrinks_then_drops_the_oldest_frames() -> None:
    frames = jpeg_frames([data.coffee(), data.astronaut()], 6000)
    assert len(frames) >= 1 and sum(map(len, frames)) <= 6000
    assert max(_decode(frames[-1]).shape[:2]) <= 160
    assert jpeg_frames([data.astronaut()], 10) == []


def test_data_url() -> None:
    url = data_url(data.astronaut(), max_side=128)
    assert url.startswith("data:image/jpeg;base64,")
    assert _decode(url.split(",", 1)[1]).shape == (128, 128, 3)
