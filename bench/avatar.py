"""Avatar benchmark: render time per frame for each replica at several resolutions.

Per frame, in milliseconds: median, p95 and p99 over `--frames` frames of a talking,
blinking, swaying face (t advancing at 25 fps, mouth_open following a speech-like
signal). "streams/core" is how many 25 fps streams one core could render (40 ms divided
by the mean frame time) - rendering only, before VP8 encoding (~6 % of a core per
stream at 320x240, growing with pixel count). "setup" is the one-off create_stream cost.

The photo rig (`r-photo`, the astronaut; needs `openreplica models pull face`, found in
`--face-models`, default the test cache in the venv) is driven by the visemes of real
Piper speech, as in a call; its "thread CPU" line is the render thread's own CPU time
per frame (`time.thread_time`), the fair measure on a machine other work is loading
(wall time there includes waiting for a core). "viseme timing" checks the playout
path against Piper's own alignment: the share of 25 fps video frames whose shown viseme
matches the alignment (at the frame's time plus the 40 ms lead) within one frame.

Run: .venv/bin/python bench/avatar.py [--frames 500] [--sizes 256,320,384,512]
     [--photo-sizes 384,512] [--preview artifacts/avatar_preview.png] [--docs docs/images]
"video (3000 f)" is a video replica as training stores it (JPEG frames at 512x512
decoded on demand, an index the size of a two-minute video), driven by the same Piper
visemes; its times are CPU time on the rendering thread.
`--preview` writes a contact sheet of frames; `--docs` writes one frame per built-in
(docs/images/replica-<id>.png) and the photo replica mid-word for the README.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from openreplica.plugins.avatar import BUILTIN_STYLES, CharacterAvatar, PortraitAvatar
from openreplica.plugins.avatar.facemesh import FaceModels, FaceModelsMissing
from openreplica.plugins.avatar.lipsync import VisemeSmoother
from openreplica.plugins.avatar.photo import PhotoAvatar
from openreplica.plugins.avatar.video_avatar import VideoAvatar
from openreplica.plugins.base import Avatar
from openreplica.plugins.visemes import Viseme, VisemeMark, viseme_at
from openreplica.runtime.visemes import DEFAULT_LEAD_S, VisemeTrack

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


SPEECH = (
    "Hello, my name is Eileen. I flew on the space shuttle four times, and I was the "
    "first woman to command one. Would you like to hear about the view from orbit?"
)


def pocketsphinx_agreement() -> float:
    """Share of 25 fps frames where forced alignment (pocketsphinx, the path for TTS
    engines without timing) shows Piper's own viseme within one frame."""
    import asyncio
    import re

    from openreplica.plugins.aligner import PocketsphinxAligner
    from openreplica.plugins.tts_piper import PiperTTS

    tts = PiperTTS.default(threads=1, noise_scale=0.0, noise_w_scale=0.0)

    async def run() -> list[tuple[bytes, tuple[VisemeMark, ...], int]]:
        return [(c.pcm, c.visemes, c.samples) async for c in tts.synthesize(SPEECH)]

    sentences = re.findall(r"[^.?!]+[.?!]", SPEECH)
    aligner = PocketsphinxAligner()
    hits = frames = 0
    for (pcm, truth, samples), text in zip(asyncio.run(run()), sentences, strict=True):
        marks = aligner.align(pcm, tts.sample_rate, text)
        n = samples * FPS // tts.sample_rate
        at = [round((k + 0.5) * tts.sample_rate / FPS) for k in range(n)]
        for k in range(n):
            near = {viseme_at(truth, at[j]) for j in (k - 1, k, k + 1) if 0 <= j < n}
            hits += viseme_at(marks, at[k]) in near
        frames += n
    return hits / max(1, frames)


def piper_visemes() -> tuple[list[tuple[tuple[VisemeMark, ...], int]], int]:
    """(marks, samples) per sentence of real Piper speech, and its sample rate."""
    import asyncio

    from openreplica.plugins.tts_piper import PiperTTS

    tts = PiperTTS.default(threads=1, noise_scale=0.0, noise_w_scale=0.0)

    async def run() -> list[tuple[tuple[VisemeMark, ...], int]]:
        return [(c.visemes, c.samples) async for c in tts.synthesize(SPEECH)]

    return asyncio.run(run()), tts.sample_rate


def frame_visemes(
    chunks: list[tuple[tuple[VisemeMark, ...], int]], rate: int
) -> list[list[Viseme]]:
    """What the playout path shows per 25 fps video frame: the visemes of its 20 ms
    audio frames, as `VisemeTrack` stamps them (40 ms ahead)."""
    track = VisemeTrack(rate)
    for marks, samples in chunks:
        track.add(1, 0, marks, samples, rate)
    step = rate // 50
    total = sum(n for _, n in chunks)
    audio = [track.played(1, 0, step) for _ in range(total // step)]
    per_video: list[list[Viseme]] = []
    for k in range(len(audio) // 2):
        per_video.append([v for v in audio[2 * k : 2 * k + 2] if v is not None])
    return per_video


def timing_agreement(chunks: list[tuple[tuple[VisemeMark, ...], int]], rate: int) -> float:
    marks: list[VisemeMark] = []
    offset = 0
    for chunk_marks, samples in chunks:
        marks += [VisemeMark(offset + m.offset, m.viseme) for m in chunk_marks]
        offset += samples
    shown = frame_visemes(chunks, rate)
    hits = 0
    for k, vs in enumerate(shown):
        due = {viseme_at(marks, round(((k + d) / FPS + DEFAULT_LEAD_S) * rate)) for d in (-1, 0, 1)}
        hits += bool(set(vs) & due) if vs else 0
    return hits / max(1, len(shown))


def measure_photo(
    avatar: PhotoAvatar, size: int, frames: int, shown: list[list[Viseme]]
) -> dict[str, float]:
    start = time.perf_counter()
    stream = avatar.create_stream(size, size, seed=1)
    setup = (time.perf_counter() - start) * 1000
    smooth = VisemeSmoother()
    times, cpu = [], []
    for i in range(frames + 10):
        weights = smooth.update(shown[i % len(shown)])
        t0, c0 = time.perf_counter(), time.thread_time()
        stream.render_visemes(i / FPS, weights)
        if i >= 10:
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.thread_time() - c0) * 1000)
    times.sort()
    cpu.sort()
    return {
        "median": statistics.median(times),
        "p95": times[int(0.95 * (len(times) - 1))],
        "p99": times[int(0.99 * (len(times) - 1))],
        "per_core": FRAME_BUDGET_MS / statistics.fmean(times),
        "setup": setup,
        "cpu_median": statistics.median(cpu),
        "cpu_p95": cpu[int(0.95 * (len(cpu) - 1))],
        "cpu_p99": cpu[int(0.99 * (len(cpu) - 1))],
        "cpu_per_core": FRAME_BUDGET_MS / statistics.fmean(cpu),
    }


def video_avatar(photo: PhotoAvatar, frames: int = 3000) -> VideoAvatar:
    """A stored-format video replica (JPEG frames at 512x512, decoded on demand, as a
    trained `.video` file holds them): 150 distinct frames of the photo rig talking,
    indexed by the mesh, repeated to `frames` (3000: two minutes at 25 fps) so the
    per-frame search covers an index of the largest size accepted."""
    from openreplica.plugins.avatar.lipsync import viseme_weights
    from openreplica.plugins.avatar.motion import BlinkSchedule, HeadMotion
    from openreplica.plugins.avatar.video_avatar import VideoReplicaData
    from openreplica.plugins.avatar.video_replica import VideoReplica
    from openreplica.plugins.visemes import VISEMES

    side = 512
    rig = photo.rig(side, side)
    motion, blinks = HeadMotion(7, side, 0.45), BlinkSchedule(7)
    labels = [VISEMES[(i // 3) % len(VISEMES)] for i in range(150)]
    video = [
        rig.render(viseme_weights(v), blinks.closure(i / FPS), motion.pose(i / FPS))
        for i, v in enumerate(labels)
    ]
    built = VideoReplica.build(video, photo._models, side, side, labels)
    jpegs = []
    for i in range(len(built.frames)):
        bgr = cv2.cvtColor(built.frames[i], cv2.COLOR_RGB2BGR)
        jpegs.append(cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())
    reps = -(-frames // len(jpegs))
    n = len(jpegs)
    kept = list(built.index.labels)
    data = VideoReplicaData(
        tuple((jpegs * reps)[:frames]),
        np.concatenate([built.points.astype(np.float32)] * reps)[:frames],
        tuple((kept * reps)[:frames]),
        (0, min(n, 100)),
        side,
    )
    return VideoAvatar(data, "r-video", "Video")


def measure_video(
    avatar: VideoAvatar, size: int, frames: int, shown: list[list[Viseme]]
) -> dict[str, float]:
    """CPU time per frame on this thread (other load on the machine does not count)."""
    start = time.perf_counter()
    stream = avatar.create_stream(size, size, seed=1)
    setup = (time.perf_counter() - start) * 1000
    smooth = VisemeSmoother()
    times = []
    for i in range(frames):
        weights = smooth.update(shown[i % len(shown)])
        t0 = time.thread_time()
        stream.render_visemes(i / FPS, weights)
        times.append((time.thread_time() - t0) * 1000)
    times.sort()
    return {
        "median": statistics.median(times),
        "p95": times[int(0.95 * (len(times) - 1))],
        "p99": times[int(0.99 * (len(times) - 1))],
        "per_core": FRAME_BUDGET_MS / statistics.fmean(times),
        "setup": setup,
    }


def photo_avatar(models_dir: Path) -> PhotoAvatar | None:
    try:
        models = FaceModels.load(models_dir)
    except FaceModelsMissing as exc:
        print(f"(no photo rig: {exc})")
        return None
    from skimage import data

    image = np.asarray(data.astronaut(), np.uint8)  # type: ignore[no-untyped-call]
    return PhotoAvatar(image, models, "r-photo", "Eileen")


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
    parser.add_argument("--photo-sizes", default="384,512")
    parser.add_argument(
        "--face-models",
        type=Path,
        default=Path(sys.prefix) / "share" / "openreplica-test" / "face",
        help="the face models (openreplica models pull face --dir DIR)",
    )
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    cv2.setNumThreads(1)  # one core per stream, as the server runs it
    threadpool_limits(1)

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

    photo = photo_avatar(args.face_models)
    if photo is not None:
        chunks, rate = piper_visemes()
        shown = frame_visemes(chunks, rate)
        for size in [int(s) for s in args.photo_sizes.split(",")]:
            r = measure_photo(photo, size, args.frames, shown)
            print(
                f"{photo.replica_id:<14}{f'{size}x{size}':>9}{r['median']:>9.2f}{r['p95']:>8.2f}"
                f"{r['p99']:>8.2f}{r['per_core']:>14.0f}{r['setup']:>9.1f}"
            )
            print(  # the render thread's own CPU time: what other processes' load hides
                f"{'  thread CPU':<14}{f'{size}x{size}':>9}{r['cpu_median']:>9.2f}"
                f"{r['cpu_p95']:>8.2f}{r['cpu_p99']:>8.2f}{r['cpu_per_core']:>14.0f}"
            )
        video = video_avatar(photo)
        for size in [int(s) for s in args.photo_sizes.split(",")]:
            r = measure_video(video, size, args.frames, shown)
            print(
                f"{'video (3000 f)':<14}{f'{size}x{size}':>9}{r['median']:>9.2f}{r['p95']:>8.2f}"
                f"{r['p99']:>8.2f}{r['per_core']:>14.0f}{r['setup']:>9.1f}"
            )
        agreement = timing_agreement(chunks, rate)
        print(
            f"viseme timing (Piper path): {agreement:.1%} of {len(shown)} video frames show the "
            "aligned viseme within one frame"
        )
        print(
            f"viseme timing (pocketsphinx path): {pocketsphinx_agreement():.1%} of frames "
            "within one frame of Piper's alignment"
        )

    if args.preview:
        save_rgb(args.preview, contact_sheet(avatars, 256))
    if args.docs:
        for style in BUILTIN_STYLES:
            stream = CharacterAvatar(style).create_stream(256, 256, seed=1)
            save_rgb(args.docs / f"replica-{style.replica_id}.png", stream.render(1.3, 0.3))
        if photo is not None:  # mid-word: the open vowel of "hear", lips easing from "h"
            from openreplica.plugins.avatar.lipsync import viseme_weights

            mid_word = 0.7 * viseme_weights("aa") + 0.3 * viseme_weights("ee")
            frame = photo.create_stream(256, 256, seed=1).render_visemes(1.3, mid_word)
            save_rgb(args.docs / "replica-photo.png", frame)


if __name__ == "__main__":
    main()
