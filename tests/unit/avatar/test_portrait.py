"""Portrait avatars: face finding, fallback, and animation of a photo."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from openreplica.plugins.avatar import PortraitAvatar
from openreplica.plugins.base import Avatar, AvatarStream

FPS = 25


def region(frame: NDArray[np.uint8], box: tuple[int, int, int, int]) -> NDArray[np.int16]:
    x0, y0, x1, y1 = box
    return frame[y0:y1, x0:x1].astype(np.int16)


def test_finds_the_astronauts_face(astronaut_avatar: PortraitAvatar) -> None:
    assert isinstance(astronaut_avatar, Avatar)
    assert astronaut_avatar.face_found
    face = astronaut_avatar.face
    # The astronaut's face is in the upper middle of the 512x512 photo.
    assert 150 < face.x + face.w / 2 < 300 and 60 < face.y + face.h / 2 < 180
    (lx, ly), (rx, ry) = astronaut_avatar.eyes
    assert face.x < lx < rx < face.x + face.w
    assert face.y < ly < face.y + face.h / 2 and face.y < ry < face.y + face.h / 2


@pytest.mark.parametrize("size", [(256, 256), (384, 384), (320, 240), (240, 320)])
def test_stream_boxes_and_frames(astronaut_avatar: PortraitAvatar, size: tuple[int, int]) -> None:
    w, h = size
    stream = astronaut_avatar.create_stream(w, h, seed=1)
    assert isinstance(stream, AvatarStream)
    fx0, fy0, fx1, fy1 = stream.face_box
    mx0, my0, mx1, my1 = stream.mouth_box
    # The mouth sits in the lower half of the face.
    assert fx0 < (mx0 + mx1) / 2 < fx1
    assert (fy0 + fy1) / 2 < (my0 + my1) / 2 < fy1
    assert fx0 <= mx0 and mx1 <= fx1 and (fy0 + fy1) / 2 < my0
    frame = stream.render(0.5, 0.3)
    assert frame.shape == (h, w, 3) and frame.dtype == np.uint8


def test_mouth_opens_only_in_the_mouth_region(astronaut_avatar: PortraitAvatar) -> None:
    stream = astronaut_avatar.create_stream(320, 320, seed=2)
    t = next(i / FPS for i in range(100) if stream.eyelid_closure(i / FPS) == 0.0)
    closed, wide = stream.render(t, 0.0), stream.render(t, 1.0)
    assert np.abs(region(wide, stream.mouth_box) - region(closed, stream.mouth_box)).sum() > 0
    changed = np.nonzero(np.any(closed != wide, axis=2))
    x0, y0, x1, y1 = stream.mouth_box
    assert changed[0].min() >= y0 and changed[0].max() < y1
    assert changed[1].min() >= x0 and changed[1].max() < x1
    # Silence right after a wide-open frame is exactly the closed photo.
    assert np.array_equal(stream.render(t, 0.0), closed)
    assert np.array_equal(
        region(stream.render(t + 1e-6, 0.0), stream.mouth_box), region(closed, stream.mouth_box)
    )


def test_sways(astronaut_avatar: PortraitAvatar) -> None:
    stream = astronaut_avatar.create_stream(256, 256, seed=3)
    assert not np.array_equal(stream.render(0.0, 0.0), stream.render(2.0, 0.0))


def test_blink_changes_the_eye_band(astronaut_avatar: PortraitAvatar) -> None:
    stream = astronaut_avatar.create_stream(256, 256, seed=3)
    t = next(i / FPS for i in range(10 * FPS) if stream.eyelid_closure(i / FPS) >= 0.99)
    before = next(t - k / FPS for k in range(1, 25) if stream.eyelid_closure(t - k / FPS) == 0.0)
    eye = np.abs(
        region(stream.render(t, 0.0), stream.eye_box)
        - region(stream.render(before, 0.0), stream.eye_box)
    ).mean()
    mouth = np.abs(
        region(stream.render(t, 0.0), stream.mouth_box)
        - region(stream.render(before, 0.0), stream.mouth_box)
    ).mean()
    assert eye > 2 * mouth


def test_deterministic(astronaut_avatar: PortraitAvatar) -> None:
    a = astronaut_avatar.create_stream(256, 256, seed=9)
    b = astronaut_avatar.create_stream(256, 256, seed=9)
    b.render(5.0, 1.0)
    for t, m in [(0.0, 0.0), (1.23, 0.7), (7.7, 0.2)]:
        assert np.array_equal(a.render(t, m), b.render(t, m))


def test_image_without_a_face_falls_back_to_the_centre(coffee: NDArray[np.uint8]) -> None:
    avatar = PortraitAvatar.from_image(coffee)
    assert not avatar.face_found
    h, w = coffee.shape[:2]
    cx, cy = avatar.face.centre
    assert abs(cx - w / 2) < w * 0.1 and abs(cy - h / 2) < h * 0.2
    stream = avatar.create_stream(256, 256)
    closed, wide = stream.render(1.0, 0.0), stream.render(1.0, 1.0)
    assert closed.shape == (256, 256, 3)
    assert not np.array_equal(region(closed, stream.mouth_box), region(wide, stream.mouth_box))


def test_from_file_and_odd_inputs(tmp_path: Path, astronaut: NDArray[np.uint8]) -> None:
    path = tmp_path / "me.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    from_file = PortraitAvatar.from_image(path)
    assert from_file.face_found
    assert from_file.image.shape == astronaut.shape
    grey = PortraitAvatar.from_image(astronaut.mean(axis=2).astype(np.uint8))
    rgba = PortraitAvatar.from_image(
        np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    )
    floats = PortraitAvatar.from_image(astronaut.astype(np.float32) / 255.0)
    for avatar in (grey, rgba, floats):
        assert avatar.create_stream(64, 64).render(0.0, 0.5).shape == (64, 64, 3)
    with pytest.raises(ValueError):
        PortraitAvatar.from_image(tmp_path / "missing.png")
    with pytest.raises(ValueError):
        PortraitAvatar.from_image(np.zeros((8, 8, 3), np.uint8))
