"""Training a video replica in a worker process (`POST /v2/replicas` with a video).

The analysis (`plugins/avatar/video_training.py`: PyAV decoding, the face mesh on every
frame, pocketsphinx) takes tens of seconds of CPU for a two-minute video, and
pocketsphinx holds the GIL while it decodes, so it runs in a spawned process, never in
the server's event loop or its threads; one video at a time per server process (the
others wait, `started`). A corrupt file that crashes the decoder takes the worker down,
not the server. The worker writes the replica file and its thumbnail under temporary
names; only on success are they renamed into place, so a failed, cancelled or timed-out
job leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import uuid
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

from openreplica.plugins.avatar.video_avatar import VIDEO_SUFFIX
from openreplica.plugins.avatar.video_training import VideoRejected, training_worker

__all__ = ["MAX_VIDEO_BYTES", "VIDEO_SUFFIX", "VideoTrainer", "looks_like_video"]

#: the largest video upload or download accepted
MAX_VIDEO_BYTES = 64 * 1024 * 1024
#: a worker that runs longer than this is stopped (two minutes of 720p take about a
#: minute of CPU)
WORKER_TIMEOUT_S = 600.0

_VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi")


def looks_like_video(content_type: str, filename: str, head: bytes) -> bool:
    """Whether an upload is a video: by its declared type, its name or its first bytes
    (an MP4/QuickTime `ftyp` box, Matroska/WebM's EBML header, an AVI RIFF)."""
    if content_type.lower().startswith("video/"):
        return True
    if filename.lower().endswith(_VIDEO_SUFFIXES):
        return True
    return (
        head[4:8] == b"ftyp"
        or head[:4] == b"\x1a\x45\xdf\xa3"
        or (head[:4] == b"RIFF" and head[8:12] == b"AVI ")
    )


def _receive(conn: Connection) -> tuple[str, object] | None:
    """The worker's next message; None once it is gone."""
    try:
        kind, value = conn.recv()
    except (EOFError, OSError):
        return None
    return str(kind), value


class VideoTrainer:
    """Runs video analyses in worker processes, one at a time."""

    def __init__(self, models_dir: Path, timeout: float = WORKER_TIMEOUT_S) -> None:
        self._models_dir = models_dir
        self._timeout = timeout
        self._turn = asyncio.Semaphore(1)
        self._context = multiprocessing.get_context("spawn")

    async def train(
        self, data: bytes, output: Path, thumbnail: Path, progress: Callable[[int], None]
    ) -> None:
        """Make `output` (the replica file) and `thumbnail` from the video `data`, or
        raise VideoRejected (the video's fault, a worker crash or the time limit) /
        RuntimeError (an error of ours inside the worker)."""
        if not data:
            raise VideoRejected("the file is empty")
        tag = uuid.uuid4().hex[:8]
        source = output.with_name(f".{output.name}.{tag}.source")
        out_tmp = output.with_name(f".{output.name}.{tag}.tmp")
        thumb_tmp = thumbnail.with_name(f".{thumbnail.name}.{tag}.tmp")
        thumbnail.parent.mkdir(parents=True, exist_ok=True)
        try:
            await asyncio.to_thread(source.write_bytes, data)
            async with self._turn:
                await self._run(source, out_tmp, thumb_tmp, progress)
            os.replace(thumb_tmp, thumbnail)
            try:
                os.replace(out_tmp, output)
            except BaseException:
                thumbnail.unlink(missing_ok=True)
                raise
        finally:
            for path in (source, out_tmp, thumb_tmp):
                path.unlink(missing_ok=True)

    async def _run(
        self, source: Path, output: Path, thumb: Path, progress: Callable[[int], None]
    ) -> None:
        parent, child = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=training_worker,
            args=(child, str(source), str(self._models_dir), str(output), str(thumb)),
            name="openreplica-video-training",
            daemon=True,
        )
        process.start()
        child.close()
        try:
            async with asyncio.timeout(self._timeout):
                while True:
                    message = await asyncio.to_thread(_receive, parent)
                    if message is None:  # it crashed: most likely on the file
                        await asyncio.to_thread(process.join, 5.0)
                        raise VideoRejected(
                            "the video could not be analysed: the worker stopped (exit code "
                            f"{process.exitcode}); the file may be corrupt"
                        )
                    kind, value = message
                    if kind == "progress" and isinstance(value, int):
                        progress(value)
                    elif kind == "done":
                        return
                    elif kind == "rejected":
                        raise VideoRejected(str(value))
                    else:
                        raise RuntimeError(f"the video analysis failed: {value}")
        except TimeoutError as exc:
            raise VideoRejected(
                f"analysing the video took over {self._timeout:g} s; send a shorter or "
                "smaller video"
            ) from exc
        finally:
            if process.is_alive():
                process.kill()
            await asyncio.to_thread(process.join, 5.0)
            # `parent` is left to the collector: a reader thread may still be on it
