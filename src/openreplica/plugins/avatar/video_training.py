"""Training a video replica: a video file of a person talking -> `VideoReplicaData`.

One pass over the file with PyAV: the picture is resampled to 25 fps; every frame is
framed like the first frame with a face (the photo rig's framing, a square of
`limits.side` pixels), meshed, indexed by mouth shape and kept as a JPEG; once a second
the face detector counts faces. The audio (16 kHz mono) must hold speech (webrtcvad);
each stretch of speech is recognised and force-aligned (`plugins/video_speech.py`) to
label frames by viseme, and frames outside speech count as rest. The idle loop is the
quietest stretch (least speech, least mouth movement) of `limits.loop_seconds`.

Every way a video cannot make a replica raises `VideoRejected` (or the photo checks'
`NoFaceFound`, `SeveralFaces`, `FaceTooSmall`) with a message for the API's
`error_message`: not a video, too short or long, too large a picture, no audio, no
speech, no face, several faces, a face too small.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

import av
import cv2
import numpy as np
from numpy.typing import NDArray

from openreplica.plugins.video_speech import RATE, speech_segments, visemes_without_text
from openreplica.plugins.visemes import Viseme, VisemeMark, viseme_at

from .facemesh import FaceModels
from .photo import MIN_FACE_PX, FaceTooSmall, SeveralFaces
from .photo_rig import NoFaceFound, frame_photo
from .video_avatar import VideoReplicaData
from .video_replica import mouth_features

__all__ = ["TrainedVideo", "VideoLimits", "VideoRejected", "train_video", "training_worker"]

Image = NDArray[np.uint8]
Progress = Callable[[int], None]


class VideoRejected(ValueError):
    """The video cannot make a replica; the message says why."""


@dataclass(frozen=True, slots=True)
class VideoLimits:
    min_seconds: float = 2.0
    max_seconds: float = 120.0
    #: the largest picture decoded (width x height)
    max_pixels: int = 3840 * 2160
    #: side of the stored (square, framed) frames
    side: int = 512
    fps: float = 25.0
    jpeg_quality: int = 85
    #: speech needed in the audio (webrtcvad)
    min_speech_seconds: float = 1.0
    loop_seconds: float = 4.0


@dataclass(slots=True)
class TrainedVideo:
    data: VideoReplicaData
    thumbnail: Image
    stats: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class _Frames:
    """What the pass over the picture keeps."""

    jpegs: list[bytes] = field(default_factory=list)
    points: list[NDArray[np.float32]] = field(default_factory=list)
    slots: list[int] = field(default_factory=list)  # 25 fps slot of each kept frame
    face_counts: list[int] = field(default_factory=list)
    face_widths: list[float] = field(default_factory=list)
    total: int = 0


def _open(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), mode="r")
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        raise VideoRejected(f"the file is not a readable video ({exc})") from exc


def _decoded(
    container: av.container.InputContainer, limits: VideoLimits, audio: bytearray
) -> Iterator[tuple[float, Image]]:
    """(seconds from the picture's start, RGB) per decoded picture; the audio, 16 kHz
    mono and aligned to the picture's start, is appended to `audio` along the way."""
    video = container.streams.video[0]
    video.thread_count = 1
    streams: list[av.stream.Stream] = [video]
    resampler = None
    if container.streams.audio:
        streams.append(container.streams.audio[0])
        resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    t0: float | None = None
    audio_t0: float | None = None
    try:
        for packet in container.demux(*streams):
            for frame in packet.decode():
                if isinstance(frame, av.VideoFrame):
                    if frame.time is None:
                        continue
                    if frame.width * frame.height > limits.max_pixels:
                        raise VideoRejected(
                            f"the picture is {frame.width}x{frame.height}; at most "
                            f"{limits.max_pixels} pixels (4K) are accepted"
                        )
                    t0 = frame.time if t0 is None else t0
                    t = frame.time - t0
                    if t > limits.max_seconds + 1.0:
                        raise VideoRejected(
                            f"the video is over {limits.max_seconds:g} s long; send "
                            f"{limits.min_seconds:g} s to {limits.max_seconds:g} s"
                        )
                    yield t, np.asarray(frame.to_ndarray(format="rgb24"), np.uint8)
                elif isinstance(frame, av.AudioFrame) and resampler is not None:
                    if audio_t0 is None and frame.time is not None:
                        audio_t0 = frame.time
                    for out in resampler.resample(frame):
                        audio += bytes(out.planes[0])[: out.samples * 2]
        if resampler is not None:  # what the resampler still holds
            for out in resampler.resample(None):
                audio += bytes(out.planes[0])[: out.samples * 2]
    except av.FFmpegError as exc:
        raise VideoRejected(f"the video is corrupt or truncated ({exc})") from exc
    if t0 is not None and audio_t0 is not None:  # line the audio up with the picture
        shift = round((audio_t0 - t0) * RATE) * 2
        if shift > 0:
            audio[:0] = bytes(shift)
        elif shift < 0:
            del audio[:-shift]


def _picture_pass(
    container: av.container.InputContainer,
    models: FaceModels,
    limits: VideoLimits,
    audio: bytearray,
    progress: Callable[[float], None],
) -> _Frames:
    video = container.streams.video[0]
    duration = (
        float(video.duration * video.time_base) if video.duration and video.time_base else 0.0
    )
    if not duration and container.duration:
        duration = container.duration / 1e6
    if duration > limits.max_seconds + 1.0:
        raise VideoRejected(
            f"the video is {duration:.0f} s long; send {limits.min_seconds:g} s to "
            f"{limits.max_seconds:g} s of the person talking"
        )
    out = _Frames()
    to_frame: NDArray[np.float64] | None = None
    side = limits.side
    quality = [cv2.IMWRITE_JPEG_QUALITY, limits.jpeg_quality]
    slot = 0
    for t, rgb in _decoded(container, limits, audio):
        last = round(t * limits.fps)
        while slot <= last:  # repeat or drop pictures to make 25 fps
            if slot % round(limits.fps) == 0:
                faces = models.detector.detect(rgb)
                out.face_counts.append(len(faces))
                if faces:
                    out.face_widths.append(max(f.width for f in faces))
            if to_frame is None:
                mesh = models.landmarks(rgb)
                if mesh is not None:
                    _, to_frame = frame_photo(rgb, mesh, side, side)
            if to_frame is not None:
                framed = np.asarray(
                    cv2.warpAffine(rgb, to_frame, (side, side), flags=cv2.INTER_AREA,
                                   borderMode=cv2.BORDER_REPLICATE),
                    np.uint8,
                )  # fmt: skip
                mesh = models.landmarks(framed)
                if mesh is not None:
                    ok, jpeg = cv2.imencode(
                        ".jpg", cv2.cvtColor(framed, cv2.COLOR_RGB2BGR), quality
                    )
                    if not ok:
                        raise VideoRejected("cannot encode the video's frames as JPEG")
                    out.jpegs.append(jpeg.tobytes())
                    out.points.append(mesh.points[:, :2].astype(np.float32))
                    out.slots.append(slot)
            slot += 1
            out.total = slot
        if duration:
            progress(min(1.0, t / duration))
    return out


def _check_faces(frames: _Frames, limits: VideoLimits) -> None:
    seconds = frames.total / limits.fps
    if frames.total == 0:
        raise VideoRejected("the file has no pictures that could be decoded")
    if seconds < limits.min_seconds:
        raise VideoRejected(
            f"the video is {seconds:.1f} s long; send {limits.min_seconds:g} s to "
            f"{limits.max_seconds:g} s of the person talking"
        )
    with_face = [c for c in frames.face_counts if c > 0]
    if not with_face or not frames.jpegs:
        raise NoFaceFound("no face found in the video")
    several = [c for c in with_face if c > 1]
    if len(several) * 2 > len(with_face):
        raise SeveralFaces(f"{max(several)} faces in the video; use a video of one person talking")
    width = float(np.median(frames.face_widths))
    if width < MIN_FACE_PX:
        raise FaceTooSmall(
            f"the face is {width:.0f} px wide in the video; it needs at least {MIN_FACE_PX} px "
            "(film closer or at a higher resolution)"
        )
    if len(frames.jpegs) < max(2, frames.total // 2):
        raise NoFaceFound(
            f"the face was found in only {len(frames.jpegs)} of {frames.total} frames; "
            "keep the face in view, turned to the camera"
        )


def _labels(
    slots: list[int], marks: tuple[VisemeMark, ...], aligned: list[tuple[int, int]],
    speech: list[tuple[int, int]], fps: float,
) -> list[Viseme | None]:  # fmt: skip
    """Each kept frame's viseme: from the marks inside aligned speech, "rest" outside
    any speech, unknown in speech that did not align."""
    out: list[Viseme | None] = []
    for s in slots:
        sample = round((s + 0.5) / fps * RATE)
        if any(a <= sample < b for a, b in aligned):
            out.append(viseme_at(marks, sample))
        elif any(a <= sample < b for a, b in speech):
            out.append(None)
        else:
            out.append("rest")
    return out


#: the visemes whose frames show an extreme of one mouth feature: (feature, sign)
_EXTREMES: dict[Viseme, tuple[int, float]] = {
    "mbp": (0, -1.0), "fv": (0, -1.0), "aa": (0, 1.0), "oo": (1, -1.0), "ee": (1, 1.0),
}  # fmt: skip
_SNAP = 0.25  # of the run's range of that feature


def _snap_labels(labels: list[Viseme | None], features: NDArray[np.float64]) -> list[Viseme | None]:
    """Alignment from speech is often a frame off, which matters most for short
    visemes. In each run of frames labelled m/b/p, f/v, aa, oo or ee (widened by a frame
    each side) keep the label only on the frames nearest the shape's extreme (closest
    lips, widest open, narrowest or widest mouth); the others become unknown."""
    out = list(labels)
    n, i = len(labels), 0
    while i < n:
        j = i
        while j + 1 < n and labels[j + 1] == labels[i]:
            j += 1
        v = labels[i]
        if v is not None and v in _EXTREMES:
            feature, sign = _EXTREMES[v]
            a, b = max(0, i - 1), min(n, j + 2)
            values = sign * features[a:b, feature]
            keep = values >= values.max() - _SNAP * max(1e-9, float(np.ptp(values)))
            for k in range(i, j + 1):
                out[k] = None
            for k in range(a, b):
                if keep[k - a] and (labels[k] == v or labels[k] in ("rest", "relaxed", None)):
                    out[k] = v
        i = j + 1
    return out


def _idle_loop(
    slots: list[int], points: NDArray[np.float64], speech: list[tuple[int, int]],
    limits: VideoLimits,
) -> tuple[int, int]:  # fmt: skip
    """The quietest run of kept frames (least speech, then least mouth movement)."""
    n = len(slots)
    length = min(n, max(2, round(limits.loop_seconds * limits.fps)))
    talking = np.array(
        [any(a <= round(s / limits.fps * RATE) < b for a, b in speech) for s in slots], np.float64
    )
    gap = np.array([mouth_features(p)[0] for p in points])
    best, best_cost = 0, float("inf")
    for start in range(0, n - length + 1, max(1, round(limits.fps / 5))):
        end = start + length
        jumps = slots[end - 1] - slots[start] - (length - 1)  # frames the mesh lost inside
        cost = float(talking[start:end].mean() + 4.0 * gap[start:end].std() + 0.01 * jumps)
        if cost < best_cost:
            best, best_cost = start, cost
    return best, best + length


def train_video(
    path: Path,
    models: FaceModels,
    limits: VideoLimits = VideoLimits(),
    progress: Progress = lambda percent: None,
) -> TrainedVideo:
    """The replica data of the video at `path` (see the module doc); progress 5..95."""
    audio = bytearray()
    container = _open(path)
    try:
        if not container.streams.video:
            raise VideoRejected("the file has no video stream")
        has_audio = bool(container.streams.audio)
        frames = _picture_pass(
            container, models, limits, audio, lambda done: progress(5 + round(65 * done))
        )
    finally:
        container.close()
    _check_faces(frames, limits)
    progress(72)
    if not has_audio or not audio:
        raise VideoRejected("the video has no sound; a video replica needs the person talking")
    pcm = bytes(audio)
    speech = speech_segments(pcm)
    spoken = sum(b - a for a, b in speech) / RATE
    if spoken < limits.min_speech_seconds:
        raise VideoRejected(
            f"no speech heard in the video ({spoken:.1f} s); a video replica needs "
            f"at least {limits.min_speech_seconds:g} s of the person talking"
        )
    progress(75)
    marks, aligned = visemes_without_text(pcm, speech, lambda done: progress(75 + round(15 * done)))
    points = np.stack(frames.points)
    features = np.stack([mouth_features(p) for p in points.astype(np.float64)])
    labels = _snap_labels(_labels(frames.slots, marks, aligned, speech, limits.fps), features)
    loop = _idle_loop(frames.slots, points.astype(np.float64), speech, limits)
    data = VideoReplicaData(tuple(frames.jpegs), points, tuple(labels), loop, limits.side)
    first = cv2.imdecode(np.frombuffer(frames.jpegs[loop[0]], np.uint8), cv2.IMREAD_COLOR)
    assert first is not None  # encoded above
    thumbnail = np.asarray(
        cv2.cvtColor(
            cv2.resize(first, (256, 256), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB
        ),
        np.uint8,
    )
    progress(95)
    labelled = sum(v is not None for v in labels)
    stats = {
        "seconds": frames.total / limits.fps,
        "frames": float(len(frames.jpegs)),
        "speech_seconds": spoken,
        "labelled": labelled / len(labels),
    }
    return TrainedVideo(data, thumbnail, stats)


def training_worker(
    conn: Connection, source: str, models_dir: str, output: str, thumb: str
) -> None:
    """A worker process's body (`server/replica_video.py` spawns it): train the video at
    `source`, write the replica file to `output` and a JPEG thumbnail to `thumb`, and
    report on `conn`: ("progress", percent)..., then ("done", stats), ("rejected",
    reason) or ("error", repr)."""
    cv2.setNumThreads(1)  # one core: the server's conversations have the others
    try:
        models = FaceModels.load(Path(models_dir))
        trained = train_video(
            Path(source), models, VideoLimits(), lambda p: conn.send(("progress", p))
        )
        trained.data.save(Path(output))
        bgr = cv2.cvtColor(trained.thumbnail, cv2.COLOR_RGB2BGR)
        ok, jpeg = cv2.imencode(".jpg", bgr)
        if not ok:
            raise RuntimeError("cannot encode the thumbnail")
        Path(thumb).write_bytes(np.asarray(jpeg).tobytes())
        conn.send(("done", trained.stats))
    except (VideoRejected, NoFaceFound, SeveralFaces, FaceTooSmall) as exc:
        conn.send(("rejected", str(exc)))
    except Exception as exc:  # reported as an internal error by the parent
        conn.send(("error", repr(exc)))
    finally:
        conn.close()
