"""Making a replica from a photo in the background: `POST /v2/replicas`.

A job goes `started` -> `completed` (or `error` with a reason) with `training_progress`
out of 100. The photo is decoded, its face checked (exactly one, big enough: the face
models when pulled, else OpenCV's cascade) and a rig built once to prove it animates;
only then are the portrait and its thumbnail written (each atomically, by rename) into
the replicas folder, where the catalog finds them. A failed job writes nothing. When a
`callback_url` was given, a webhook says how it ended.

A video (`kind` "video") is analysed in a worker process by `replica_video.VideoTrainer`
and becomes `<replica_id>.video` beside the photos, with the same thumbnail, progress,
errors and webhook.

Every change of a job goes to a `JobLog` (the store: `server/replica_jobs.py`), so
status, progress and errors survive a restart; a job a stop cut off is `error` on the
next start (see `recover_replica_jobs`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

from openreplica.plugins.avatar import AvatarCatalog
from openreplica.plugins.avatar.face_detect import detect_face
from openreplica.plugins.avatar.lipsync import viseme_weights
from openreplica.plugins.avatar.motion import HeadPose
from openreplica.plugins.avatar.photo import (
    MIN_FACE_PX,
    FaceTooSmall,
    NoFaceFound,
    SeveralFaces,
    check_photo,
)
from openreplica.plugins.avatar.photo_rig import PhotoRig
from openreplica.plugins.avatar.video_avatar import VIDEO_SUFFIX
from openreplica.plugins.avatar.video_training import VideoRejected
from openreplica.runtime import Clock
from openreplica.server.replica_fetch import FetchError
from openreplica.server.replica_video import VideoTrainer

__all__ = [
    "REPLICA_WEBHOOK_EVENT",
    "JobLog",
    "MemoryJobs",
    "ReplicaJob",
    "ReplicaTrainer",
    "TrainingFailed",
]

log = logging.getLogger(__name__)

REPLICA_WEBHOOK_EVENT = "application.replica_training_finished"
THUMBNAIL_SIZE = 256
#: source photos larger than this (either side) are scaled down before anything else
_MAX_SIDE = 2048

Status = Literal["started", "completed", "error"]
Notify = Callable[[str, str, dict[str, object]], None]  # (replica_id, url, properties)
SaveName = Callable[[str, str], Awaitable[None]]  # (replica_id, name)
Load = Callable[[], Awaitable[bytes]]
Kind = Literal["portrait", "video"]


class TrainingFailed(ValueError):
    """The photo cannot make a replica; the message is the `error_message`."""


@dataclass
class ReplicaJob:
    replica_id: str
    name: str
    created_at: float
    updated_at: float
    callback_url: str | None = None
    status: Status = "started"
    progress: int = 0
    error_message: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    kind: Kind = "portrait"


class JobLog(Protocol):
    """Where job records are kept (a completed job is dropped: the catalog has it)."""

    async def save(self, job: ReplicaJob) -> None: ...

    async def get(self, replica_id: str) -> ReplicaJob | None: ...

    async def unfinished(self) -> list[ReplicaJob]: ...

    async def forget(self, replica_id: str) -> bool: ...


class MemoryJobs:
    """Job records in memory only (tests, tools): a restart forgets them."""

    def __init__(self) -> None:
        self._jobs: dict[str, ReplicaJob] = {}

    async def save(self, job: ReplicaJob) -> None:
        if job.status == "completed":
            self._jobs.pop(job.replica_id, None)
        else:
            self._jobs[job.replica_id] = replace(job, task=None)

    async def get(self, replica_id: str) -> ReplicaJob | None:
        return self._jobs.get(replica_id)

    async def unfinished(self) -> list[ReplicaJob]:
        return list(self._jobs.values())

    async def forget(self, replica_id: str) -> bool:
        return self._jobs.pop(replica_id, None) is not None


def decode_photo(data: bytes) -> NDArray[np.uint8]:
    """An uploaded or fetched image as RGB; TrainingFailed when it is not one."""
    if not data:
        raise TrainingFailed("the file is empty")
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise TrainingFailed("the file is not a readable image (JPEG, PNG, WebP or BMP)")
    k = _MAX_SIDE / max(bgr.shape[:2])
    if k < 1.0:
        bgr = cv2.resize(bgr, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), np.uint8)


class ReplicaTrainer:
    def __init__(
        self,
        catalog: AvatarCatalog,
        directory: Path,
        clock: Clock,
        notify: Notify,
        save_name: SaveName,
        video: VideoTrainer | None = None,
        jobs: JobLog | None = None,
    ) -> None:
        """`jobs`: where job records are kept (default: in memory)."""
        self._catalog = catalog
        self._video = video
        self._save_name = save_name
        self._dir = directory
        self._clock = clock
        self._notify = notify
        self._log: JobLog = jobs if jobs is not None else MemoryJobs()
        #: jobs running in this process (their tasks)
        self.running: dict[str, ReplicaJob] = {}
        self._save_lock = asyncio.Lock()
        self._saving: set[asyncio.Task[None]] = set()

    def thumbnail_path(self, replica_id: str) -> Path:
        return self._dir / ".thumbnails" / f"{replica_id}.jpg"

    async def job(self, replica_id: str) -> ReplicaJob | None:
        """A job still training or failed (a completed one is a replica in the catalog)."""
        running = self.running.get(replica_id)
        return running if running is not None else await self._log.get(replica_id)

    async def unfinished(self) -> list[ReplicaJob]:
        """Jobs still training or failed, oldest first."""
        stored = {j.replica_id: j for j in await self._log.unfinished()}
        stored.update({i: j for i, j in self.running.items() if i in stored})
        return list(stored.values())

    async def start(
        self, name: str, callback_url: str | None, load: Load, kind: Kind = "portrait"
    ) -> ReplicaJob:
        """Begin a job (recorded before this returns); `load()` is awaited for the image
        or video bytes (upload or URL)."""
        now = self._clock.now()
        job = ReplicaJob(f"r-{uuid.uuid4().hex[:12]}", name, now, now, callback_url, kind=kind)
        await self._save(job)
        self.running[job.replica_id] = job
        job.task = asyncio.create_task(self._run(job, load), name=f"replica-{job.replica_id}")
        return job

    async def _run(self, job: ReplicaJob, load: Load) -> None:
        try:
            data = await load()
            if job.kind == "video":
                await self._train_video(job, data)
                await self._save_name(job.replica_id, job.name)
                await self._finish(job, "completed", None)
                return
            await self._progress(job, 20)
            rgb = decode_photo(data)
            await self._progress(job, 40)
            thumb = await asyncio.to_thread(self._check_and_rig, rgb)
            await self._progress(job, 80)
            await asyncio.to_thread(self._write, job.replica_id, rgb, thumb)
            await self._save_name(job.replica_id, job.name)
        except (
            TrainingFailed,
            FetchError,
            NoFaceFound,
            SeveralFaces,
            FaceTooSmall,
            VideoRejected,
        ) as exc:
            await self._finish(job, "error", str(exc))
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug: say so on the job rather than hang at "started"
            log.exception("replica training failed")
            await self._finish(job, "error", f"internal error: {exc!r}")
            return
        await self._finish(job, "completed", None)

    async def _train_video(self, job: ReplicaJob, data: bytes) -> None:
        if self._video is None or self._catalog.face_models is None:
            raise TrainingFailed(
                "video replicas need the face models: run `openreplica models pull face`"
            )
        await self._progress(job, 5)
        output = self._dir / f"{job.replica_id}{VIDEO_SUFFIX}"
        self._dir.mkdir(parents=True, exist_ok=True)
        await self._video.train(
            data, output, self.thumbnail_path(job.replica_id), lambda p: self._progress_soon(job, p)
        )

    def _check_and_rig(self, rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """Check the face and return a thumbnail (the rig's rest frame)."""
        models = self._catalog.face_models
        if models is None:  # no face models: the cascade can at least find a face
            face = detect_face(rgb)
            if not face.found:
                raise NoFaceFound("no face found in the photo")
            if face.w < MIN_FACE_PX:
                raise FaceTooSmall(f"the face is {face.w:.0f} px wide; it needs {MIN_FACE_PX}")
            return _cover(rgb, THUMBNAIL_SIZE)
        check_photo(rgb, models)
        rig = PhotoRig(rgb, models, THUMBNAIL_SIZE, THUMBNAIL_SIZE)
        return rig.render(viseme_weights("rest"), 0.0, HeadPose(0.0, 0.0, 0.0))

    def _write(self, replica_id: str, rgb: NDArray[np.uint8], thumb: NDArray[np.uint8]) -> None:
        thumb_path = self.thumbnail_path(replica_id)
        thumb_path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(thumb_path, ".jpg", thumb)
        try:
            _write_atomic(self._dir / f"{replica_id}.png", ".png", rgb)
        except BaseException:
            thumb_path.unlink(missing_ok=True)
            raise

    async def _progress(self, job: ReplicaJob, progress: int) -> None:
        job.progress = progress
        job.updated_at = self._clock.now()
        await self._save(job)

    def _progress_soon(self, job: ReplicaJob, progress: int) -> None:
        """`_progress` for a plain callback (the video worker's): saved in the background.
        A save writes the job as it is then, so a late one cannot undo a later change."""
        job.progress = progress
        job.updated_at = self._clock.now()
        task = asyncio.get_running_loop().create_task(self._save(job, quiet=True))
        self._saving.add(task)
        task.add_done_callback(self._saving.discard)

    async def _save(self, job: ReplicaJob, quiet: bool = False) -> None:
        """One save at a time (an update never races the insert). A background save
        (`quiet`) of a job no longer running (finished, or deleted) is dropped."""
        async with self._save_lock:
            if quiet and job.replica_id not in self.running:
                return
            try:
                await self._log.save(job)
            except Exception:
                if not quiet:
                    raise
                log.exception("replica %s: saving its progress failed", job.replica_id)

    async def _finish(self, job: ReplicaJob, status: Status, error: str | None) -> None:
        progress = 100 if status == "completed" else job.progress
        now = self._clock.now()
        # Stored before the running job shows it (a GET reads a running job from
        # memory): killed in between, the store must not lack a status a client saw.
        finished = replace(
            job, status=status, error_message=error, progress=progress, updated_at=now
        )
        try:
            await self._save(finished)  # completed: dropped, the catalog knows it from now on
        finally:
            job.status, job.error_message = status, error
            job.progress, job.updated_at = progress, now
            self.running.pop(job.replica_id, None)
        if job.callback_url:
            props: dict[str, object] = {"replica_id": job.replica_id, "status": status}
            if error is not None:
                props["error_message"] = error
            self._notify(job.replica_id, job.callback_url, props)

    async def delete(self, replica_id: str) -> bool:
        """Forget a job or remove a finished replica's files. False when unknown."""
        job = self.running.pop(replica_id, None)
        if job is not None and job.task is not None and not job.task.done():
            job.task.cancel()
            await asyncio.gather(job.task, return_exceptions=True)
        async with self._save_lock:  # after any background save of it
            removed = await self._log.forget(replica_id) or job is not None
        for path in [
            self._dir / f"{replica_id}{s}" for s in (".png", ".jpg", ".jpeg", VIDEO_SUFFIX)
        ]:
            if path.is_file():
                path.unlink()
                removed = True
        self.thumbnail_path(replica_id).unlink(missing_ok=True)
        self._catalog.forget(replica_id)
        return removed


def _cover(rgb: NDArray[np.uint8], size: int) -> NDArray[np.uint8]:
    h, w = rgb.shape[:2]
    side = min(h, w)
    crop = rgb[(h - side) // 2 : (h - side) // 2 + side, (w - side) // 2 : (w - side) // 2 + side]
    return np.asarray(cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA), np.uint8)


def _write_atomic(path: Path, suffix: str, rgb: NDArray[np.uint8]) -> None:
    ok, encoded = cv2.imencode(suffix, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise TrainingFailed(f"cannot encode the {suffix} file")
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_bytes(encoded.tobytes())
    os.replace(tmp, path)
