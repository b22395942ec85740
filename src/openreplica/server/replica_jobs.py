"""Replica training jobs kept in the store, so their status survives a restart.

Each change of a job (`started` with its progress, `error` with its reason) is written
to the `replica_jobs` table (the video worker's progress in the background, the rest
before the change is visible); a completed job's row is deleted (from then on the
replica is the catalog's: its portrait or video file). `GET /v2/replicas` reads jobs
from here, so a job's record is the same whichever node or process answers.

On start, a job this server (or in a cluster, this node) left `started` was cut off by
the stop: it cannot resume (an upload is not kept; only the finished portrait is), so it
becomes `error` with `INTERRUPTED` as its reason, its half-written thumbnail is removed
and, when it had a `callback_url`, the webhook says it failed. A job whose portrait (or
video) was already written when the process died had in fact finished: its row is
simply dropped.

In a cluster, the jobs of a node that died (its heartbeat expired) are settled the same
way by the surviving nodes (`recover_dead_nodes_jobs`, run by `ClusterNode` when a node
drops out of the registry): one of them marks each `error`, naming the node, and fires
its webhook. A job is not restarted elsewhere: its upload was only on the dead node.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path

from openreplica.plugins.avatar.video_avatar import VIDEO_SUFFIX
from openreplica.runtime import Clock
from openreplica.server.replica_training import Notify, ReplicaJob, Status
from openreplica.server.store import ReplicaJobRecord, Store

__all__ = [
    "INTERRUPTED",
    "StoredJobs",
    "died",
    "recover_dead_nodes_jobs",
    "recover_replica_jobs",
]

log = logging.getLogger(__name__)

INTERRUPTED = (
    "training was interrupted: the server stopped before this replica was made; create it again"
)
_STATUSES: dict[str, Status] = {"started": "started", "completed": "completed", "error": "error"}


def _record(job: ReplicaJob, node_id: str | None) -> ReplicaJobRecord:
    return ReplicaJobRecord(
        replica_id=job.replica_id,
        replica_name=job.name,
        status=job.status,
        progress=job.progress,
        error_message=job.error_message,
        callback_url=job.callback_url,
        created_at=job.created_at,
        updated_at=job.updated_at,
        node_id=node_id,
        kind=job.kind,
    )


def _job(record: ReplicaJobRecord) -> ReplicaJob:
    return ReplicaJob(
        replica_id=record.replica_id,
        name=record.replica_name,
        created_at=record.created_at,
        updated_at=record.updated_at,
        callback_url=record.callback_url,
        status=_STATUSES.get(record.status, "error"),
        progress=record.progress,
        error_message=record.error_message,
        kind="video" if record.kind == "video" else "portrait",
    )


class StoredJobs:
    """The trainer's job log on the store (`ReplicaTrainer(jobs=...)`)."""

    def __init__(self, store: Store, node_id: str | None = None) -> None:
        self._store = store
        self._node_id = node_id

    async def save(self, job: ReplicaJob) -> None:
        if job.status == "completed":
            await self._store.delete_replica_job(job.replica_id)
        else:
            await self._store.save_replica_job(_record(job, self._node_id))

    async def get(self, replica_id: str) -> ReplicaJob | None:
        record = await self._store.replica_job(replica_id)
        return _job(record) if record is not None else None

    async def unfinished(self) -> list[ReplicaJob]:
        return [_job(r) for r in await self._store.replica_jobs()]

    async def forget(self, replica_id: str) -> bool:
        return await self._store.delete_replica_job(replica_id)


async def recover_replica_jobs(
    store: Store, directory: Path, clock: Clock, notify: Notify, node_id: str | None = None
) -> list[str]:
    """Settle the jobs a previous process left `started` (see the module doc); returns
    the ids of those now in `error`."""
    failed: list[str] = []
    for record in await store.replica_jobs("started", node_id):
        if await _settle(store, directory, clock, notify, record, INTERRUPTED):
            failed.append(record.replica_id)
    return failed


async def recover_dead_nodes_jobs(
    store: Store, directory: Path, clock: Clock, notify: Notify, live: Collection[str]
) -> list[str]:
    """In a cluster, settle the jobs `started` on nodes that are not in the registry any
    more (`live`: the nodes that are) as `recover_replica_jobs` does at a restart, with
    `died(node)` as the reason: the node died (or stopped) and will not finish them. Of
    several nodes settling one, one does (compare-and-set), so its webhook goes once.
    Returns the ids of those now in `error`."""
    failed: list[str] = []
    for record in await store.replica_jobs("started"):
        if record.node_id is None or record.node_id in live:
            continue
        reason = died(record.node_id)
        if await _settle(store, directory, clock, notify, record, reason):
            failed.append(record.replica_id)
    return failed


def died(node_id: str) -> str:
    """The error of a job cut off by the death of the cluster node running it."""
    return (
        f"training was interrupted: cluster node {node_id} stopped before this replica was "
        "made; create it again"
    )


async def _settle(
    store: Store,
    directory: Path,
    clock: Clock,
    notify: Notify,
    record: ReplicaJobRecord,
    reason: str,
) -> bool:
    """A job whose process stopped: dropped if its replica was written (it had
    finished), else `error` with `reason` and its webhook; True for the latter."""
    made = [directory / f"{record.replica_id}{s}" for s in (".png", VIDEO_SUFFIX)]
    if any(path.is_file() for path in made):  # written: it had finished
        await store.delete_replica_job(record.replica_id)
        return False
    if not await store.fail_replica_job(record.replica_id, record.node_id, reason, clock.now()):
        return False  # settled by another node, or it moved on
    (directory / ".thumbnails" / f"{record.replica_id}.jpg").unlink(missing_ok=True)
    log.warning("replica %s: training was cut off (%s)", record.replica_id, reason)
    if record.callback_url:
        notify(
            record.replica_id,
            record.callback_url,
            {"replica_id": record.replica_id, "status": "error", "error_message": reason},
        )
    return True
