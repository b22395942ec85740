"""A replica job's end is written to its log before a reader of the running job sees
it: a process killed in between must not have shown a status its store never had."""

from __future__ import annotations

import asyncio
from pathlib import Path

from eventually import eventually

from openreplica.plugins.avatar import AvatarCatalog
from openreplica.runtime.clock import VirtualClock
from openreplica.server.replica_fetch import FetchError
from openreplica.server.replica_training import MemoryJobs, ReplicaJob, ReplicaTrainer


class HeldLog(MemoryJobs):
    """Holds the save of a finished job until the test lets it through."""

    def __init__(self) -> None:
        super().__init__()
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def save(self, job: ReplicaJob) -> None:
        if job.status != "started":
            self.holding.set()
            await self.release.wait()
        await super().save(job)


async def test_a_failure_is_stored_before_the_running_job_shows_it(tmp_path: Path) -> None:
    log = HeldLog()
    notified: list[dict[str, object]] = []

    async def save_name(replica_id: str, name: str) -> None:
        raise AssertionError("a failed job names no replica")

    trainer = ReplicaTrainer(
        AvatarCatalog(),
        tmp_path,
        VirtualClock(),
        lambda _rid, _url, props: notified.append(props),
        save_name,
        jobs=log,
    )

    async def unreachable() -> bytes:
        raise FetchError("the photo's host did not answer")

    job = await trainer.start("Broken", "http://127.0.0.1:9/hook", unreachable)
    await eventually(log.holding.is_set, message="the failure is being saved")
    seen = await trainer.job(job.replica_id)
    assert seen is not None
    assert (seen.status, seen.error_message) == ("started", None)
    assert notified == []

    log.release.set()
    await eventually(lambda: job.replica_id not in trainer.running, message="the job ended")
    stored = await log.get(job.replica_id)
    assert stored is not None
    assert (stored.status, stored.error_message) == ("error", "the photo's host did not answer")
    assert job.status == "error"
    assert notified == [
        {
            "replica_id": job.replica_id,
            "status": "error",
            "error_message": "the photo's host did not answer",
        }
    ]
