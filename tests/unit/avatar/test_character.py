"""The built-in stylised replicas: shape, determinism, mouth, blinks and idle motion."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from openreplica.plugins.avatar import (
    BUILTIN_STYLES,
    DEFAULT_HEIGHT,
    DEFAULT_WIDTH,
    CharacterAvatar,
    CharacterStream,
)
from openreplica.plugins.base import Avatar, AvatarStream

FPS = 25
AVATARS = [CharacterAvatar(s) for s in BUILTIN_STYLES]
IDS = [a.replica_id for a in AVATARS]


def crop(frame: NDArray[np.uint8], box: tuple[int, int, int, int]) -> NDArray[np.int16]:
    x0, y0, x1, y1 = box
    return frame[y0:y1, x0:x1].astype(np.int16)


def open_times(stream: CharacterStream, seconds: float = 10.0) -> list[float]:
    return [i / FPS for i in range(int(seconds * FPS)) if stream.eyelid_closure(i / FPS) == 0.0]


@pytest.mark.parametrize("avatar", AVATARS, ids=IDS)
def test_satisfies_the_plugin_contract(avatar: CharacterAvatar) -> None:
    assert isinstance(avatar, Avatar)
    assert avatar.name and avatar.replica_id.startswith("r-")
    stream = avatar.create_stream(64, 64)
    assert isinstance(stream, AvatarStream)


@pytest.mark.parametrize("avatar", AVATARS, ids=IDS)
@pytest.mark.parametrize("size", [(256, 256), (320, 240), (240, 320), (384, 384), (512, 512)])
def test_frame_shape_and_dtype(avatar: CharacterAvatar, size: tuple[int, int]) -> None:
    w, h = size
    stream = avatar.create_stream(w, h, seed=3)
    assert (stream.width, stream.height) == (w, h)
    for t, m in [(0.0, 0.0), (1.7, 0.5), (9.3, 1.0)]:
        frame = stream.render(t, m)
        assert frame.shape == (h, w, 3)
        assert frame.dtype == np.uint8
        assert frame.flags.c_contiguous


def test_default_size() -> None:
    frame = AVATARS[0].create_stream().render(0.0, 0.0)
    assert frame.shape == (DEFAULT_HEIGHT, DEFAULT_WIDTH, 3)


@pytest.mark.parametrize("avatar", AVATARS, ids=IDS)
def test_same_seed_and_time_give_identical_frames(avatar: CharacterAvatar) -> None:
    a = avatar.create_stream(256, 256, seed=7)
    b = avatar.create_stream(256, 256, seed=7)
    # Different histories must not matter: rendering is a function of (seed, t, mouth).
    for i in range(40):
        b.render(i * 0.37, (i % 5) / 4)
    for t, m in [(0.0, 0.0), (3.21, 0.6), (12.5, 1.0), (0.5, 0.0)]:
        assert np.array_equal(a.render(t, m), b.render(t, m))


def test_different_seeds_differ() -> None:
    a = AVATARS[0].create_stream(256, 256, seed=1).render(2.0, 0.0)
    b = AVATARS[0].create_stream(256, 256, seed=2).render(2.0, 0.0)
    assert not np.array_equal(a, b)


def test_builtins_look_different() -> None:
    frames = [a.create_stream(128, 128).render(0.0, 0.0) for a in AVATARS]
    assert np.abs(frames[0].astype(int) - frames[1].astype(int)).mean() > 20


@pytest.mark.parametrize("avatar", AVATARS, ids=IDS)
def test_mouth_follows_mouth_open(avatar: CharacterAvatar) -> None:
    stream = avatar.create_stream(320, 320, seed=5)
    t = open_times(stream)[3]
    closed = stream.render(t, 0.0)
    half = stream.render(t, 0.5)
    wide = stream.render(t, 1.0)
    box = stream.mouth_box
    d_half = np.abs(crop(half, box) - crop(closed, box)).sum()
    d_wide = np.abs(crop(wide, box) - crop(closed, box)).sum()
    assert d_half > 0
    assert d_wide > d_half
    # The mouth moves; the rest of the face does not (bar the brows' small lift).
    outside = closed.copy()
    x0, y0, x1, y1 = box
    outside[y0:y1, x0:x1] = wide[y0:y1, x0:x1]
    changed = np.argwhere(np.any(outside != wide, axis=2))
    assert changed.size == 0 or changed[:, 0].max() < box[1]


@pytest.mark.parametrize("avatar", AVATARS, ids=IDS)
def test_closed_mouth_is_stable_and_closes_instantly(avatar: CharacterAvatar) -> None:
    stream = avatar.create_stream(320, 320, seed=5)
    t = open_times(stream)[10]
    box = stream.mouth_box
    a = stream.render(t, 0.0)
    b = stream.render(t + 1e-6, 0.0)
    assert np.array_equal(crop(a, box), crop(b, box))
    # After a wide-open frame the next silent frame is exactly the closed mouth.
    fresh = avatar.create_stream(320, 320, seed=5)
    stream.render(t - 1 / FPS, 1.0)
    assert np.array_equal(stream.render(t, 0.0), fresh.render(t, 0.0))


def eye_darkness(frame: NDArray[np.uint8], box: tuple[int, int, int, int]) -> int:
    return int((crop(frame, box).mean(axis=2) < 90).sum())


@pytest.mark.parametrize("avatar", AVATARS, ids=IDS)
def test_blinks_happen_and_eyes_are_mostly_open(avatar: CharacterAvatar) -> None:
    # Motion off, so only the eyes can change the dark-pixel count of the eye region.
    stream = CharacterAvatar(avatar.style, motion=0.0).create_stream(256, 256, seed=11)
    times = [i / FPS for i in range(10 * FPS)]
    closures = [stream.eyelid_closure(t) for t in times]
    shut = [t for t, c in zip(times, closures, strict=True) if c >= 0.99]
    assert shut, "no blink in 10 s"
    assert sum(c == 0.0 for c in closures) / len(closures) > 0.85
    dark_open = [
        eye_darkness(stream.render(t, 0.0), stream.eye_box)
        for t in times[::10]
        if stream.eyelid_closure(t) == 0.0
    ]
    dark_shut = [eye_darkness(stream.render(t, 0.0), stream.eye_box) for t in shut]
    # Shut eyes show far fewer dark (iris) pixels than any open frame.
    assert max(dark_shut) < min(dark_open) - 60, (dark_shut, dark_open)


def test_blink_intervals_vary() -> None:
    stream = AVATARS[0].create_stream(64, 64, seed=4)
    starts = []
    previous = 0.0
    for i in range(60 * FPS):
        c = stream.eyelid_closure(i / FPS)
        if c > 0.0 and previous == 0.0:
            starts.append(i / FPS)
        previous = c
    gaps = np.diff(starts)
    assert len(starts) >= 8
    assert gaps.max() - gaps.min() > 1.5
    assert gaps.min() >= 0.2


@pytest.mark.parametrize("avatar", AVATARS, ids=IDS)
def test_idle_motion(avatar: CharacterAvatar) -> None:
    stream = avatar.create_stream(256, 256, seed=2)
    a, b = stream.render(0.0, 0.0), stream.render(2.0, 0.0)
    assert not np.array_equal(a, b)
    still = CharacterAvatar(avatar.style, motion=0.0).create_stream(256, 256, seed=2)
    open_ts = [t for t in (0.0, 0.3, 2.0, 2.3, 4.0) if still.eyelid_closure(t) == 0.0]
    # Without motion, open-eyed frames differ only where the eyes glance.
    f0 = still.render(open_ts[0], 0.0)
    for t in open_ts[1:]:
        diff = np.any(still.render(t, 0.0) != f0, axis=2)
        ys, xs = np.nonzero(diff)
        if ys.size:
            x0, y0, x1, y1 = still.eye_box
            assert x0 <= xs.min() and xs.max() < x1 and y0 <= ys.min() and ys.max() < y1


def test_rejects_tiny_frames() -> None:
    with pytest.raises(ValueError):
        AVATARS[0].create_stream(16, 16)


def test_streams_of_one_avatar_share_static_layers() -> None:
    avatar = CharacterAvatar(BUILTIN_STYLES[1])
    first = avatar.create_stream(128, 96, seed=1)
    second = avatar.create_stream(128, 96, seed=1)
    assert second.layers is first.layers
    fresh = CharacterAvatar(BUILTIN_STYLES[1]).create_stream(128, 96, seed=1)
    assert np.array_equal(second.render(1.5, 0.4), fresh.render(1.5, 0.4))
    assert first.render(0.0, 0.0).flags.writeable  # frames belong to the caller
