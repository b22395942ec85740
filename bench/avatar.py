"""Avatar benchmark: render time per frame for each replica at several resolutions.

Per frame, in milliseconds: median, p95 and p99 over `--frames` frames of a talking,
blinking, swaying face (t advancing at 25 fps, mouth_open following a speech-like
signal). "streams/core" is how many 25 fps streams one core could render (40 ms divided
by the mean frame time) - rendering only, before VP8 encoding (~6 % of a core per
stream at 320x240, growing with pixel count). "setup" is the one-off create_stream cost.

Run: .venv/bin/python bench/avatar.py [--frames 500] [--sizes 256,320,384,512]
     [--preview artifacts/avatar_preview.png] [--docs docs/images]
`--preview` writes a contact sheet of frames; `--docs` writes one frame per built-in
(docs/images/replica-<id>.png) for the README.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from openreplica.plugins.avatar import BUILTIN_STYLES, CharacterAvatar, PortraitAvatar
from openreplica.plugins.base import Avatar

FPS = 25
FRAME_BUDGET_MS = 1000.0 / FPS


def portrait() -> PortraitAvatar:
    try:
        from skimage import data

        image: NDArray[np.uint8] = np.asarray(data.astronaut(), np.uint8)  # type: ignore[no-untyped-call]
    except ImportError:  # scikit-image is a dev extra; any image works (centre fallback)
        y, x = np.mgrid[0:512, 0:512]
        image = np.dstack([x % 256, y % 256, (x + y) % 256]).astype(np.uint8)
    return PortraitAvatar.from_image(image, "r-astronaut", "Astronaut")


def speech_level(i: int) -> float:
    """A syllable-like mouth signal (~4 Hz) with pauses, so both paths get exercised."""
    t = i / FPS
    envelope = max(0.0, math.sin(2 * math.pi * 0.35 * t))
    return envelope * (0.5 + 0.5 * abs(math.sin(2 * math.pi * 4.0 * t)))


def measure(avatar: Avatar, size: int, frames: int) -> dict[str, float]:
    start = time.perf_counter()
    stream = avatar.create_stream(size, size, seed=1)
    setup = (time.perf_counter() - start) * 1000
    for i in range(10):  # warm caches and lazily extended schedules
        stream.render(i / FPS, speech_level(i))
    times = []
    for i in range(frames):
        t0 = time.perf_counter()
        stream.render(i / FPS, speech_level(i))
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    mean = statistics.fmean(times)
    return {
        "median": statistics.median(times),
        "p95": times[int(0.95 * (len(times) - 1))],
        "p99": times[int(0.99 * (len(times) - 1))],
        "per_core": FRAME_BUDGET_MS / mean,
        "setup": setup,
    }


def contact_sheet(avatars: list[Avatar], size: int) -> NDArray[np.uint8]:
    """Rows per avatar: rest, talking half/wide, later rest, and a blink."""
    rows = []
    for avatar in avatars:
        stream = avatar.create_stream(size, size, seed=1)
        closure = getattr(stream, "eyelid_closure", lambda t: 0.0)
        blink = next((i / FPS for i in range(20 * FPS) if closure(i / FPS) >= 0.99), 0.0)
        shots = [(0.0, 0.0), (1.3, 0.45), (2.5, 1.0), (6.0, 0.0), (blink, 0.0)]
        rows.append(np.hstack([stream.render(t, m) for t, m in shots]))
    return np.vstack(rows)


def save_rgb(path: Path, image: NDArray[np.uint8]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=500)
    parser.add_argument("--sizes", default="256,320,384,512")
    parser.add_argument("--preview", type=Path, help="write a PNG contact sheet here")
    parser.add_argument("--docs", type=Path, help="write replica-<id>.png images here")
    args = parser.parse_args()

    avatars: list[Avatar] = [CharacterAvatar(s) for s in BUILTIN_STYLES]
    avatars.append(portrait())
    sizes = [int(s) for s in args.sizes.split(",")]

    header = (
        f"{'replica':<14}{'size':>9}{'median':>9}{'p95':>8}{'p99':>8}"
        f"{'streams/core':>14}{'setup':>9}"
    )
    print(
        f"render time per frame, ms ({args.frames} frames, 25 fps budget {FRAME_BUDGET_MS:.0f} ms)"
    )
    print(header)
    print("-" * len(header))
    for avatar in avatars:
        for size in sizes:
            r = measure(avatar, size, args.frames)
            print(
                f"{avatar.replica_id:<14}{f'{size}x{size}':>9}{r['median']:>9.2f}{r['p95']:>8.2f}"
                f"{r['p99']:>8.2f}{r['per_core']:>14.0f}{r['setup']:>9.1f}"
            )

    if args.preview:
        save_rgb(args.preview, contact_sheet(avatars, 256))
    if args.docs:
        for style in BUILTIN_STYLES:
            stream = CharacterAvatar(style).create_stream(256, 256, seed=1)
            save_rgb(args.docs / f"replica-{style.replica_id}.png", stream.render(1.3, 0.3))


if __name__ == "__main__":
    main()
