"""CPU cost of a cluster node's owner-checked event batch (`Store.add_events` with
`owner`: the `node_id` of the batch's conversations read `FOR SHARE` in the insert's
transaction, docs/scaling.md "Late writes of a fenced node") against the plain insert,
on a real PostgreSQL the script starts (Debian's). Each sample is one batch (`--events`
events over `--conversations` conversations, as a node's 50 ms batch); the figures are
this process's CPU time per batch (time.process_time: the load of other processes does
not distort it), p50/p95/p99 in microseconds, and the wall time per batch for reference.

    unshare -n sh -c 'ip link set lo up && .venv/bin/python bench/owned_writes.py'
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from percentiles import percentile

from openreplica.server.store import ConversationRecord, EventRecord, Store

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))
from db_servers import PostgresServer

NODE = "node-a"


def _percentiles(values: list[float]) -> tuple[float, float, float]:
    return percentile(values, 50), percentile(values, 95), percentile(values, 99)


def _conversation(cid: str) -> ConversationRecord:
    return ConversationRecord(
        conversation_id=cid,
        conversation_name=None,
        persona_id=None,
        replica_id="r1",
        status="active",
        callback_url=None,
        require_auth=False,
        meeting_token=None,
        created_at=0.0,
        updated_at=0.0,
        ended_at=None,
        shutdown_reason=None,
        request={},
        persona={},
        node_id=NODE,
    )


async def _run(url: str, samples: int, events: int, conversations: int) -> None:
    store = await Store.open(url)
    try:
        ids = [f"c{i}" for i in range(conversations)]
        for cid in ids:
            await store.add_conversation(_conversation(cid))
        seq = 0
        for owner, label in ((None, "plain insert"), (NODE, "owner-checked")):
            cpu_us: list[float] = []
            wall_us: list[float] = []
            for sample in range(samples + 20):  # the first 20 warm the pool up
                seq += 1
                batch = [
                    EventRecord(ids[i % conversations], seq * events + i, "x", 0.0, b"{}")
                    for i in range(events)
                ]
                cpu, wall = time.process_time_ns(), time.perf_counter_ns()
                refused = await store.add_events(batch, owner)
                if sample >= 20:
                    cpu_us.append((time.process_time_ns() - cpu) / 1000)
                    wall_us.append((time.perf_counter_ns() - wall) / 1000)
                assert not refused
            p50, p95, p99 = _percentiles(cpu_us)
            w50, _, w99 = _percentiles(wall_us)
            print(
                f"{label:>14}: CPU per batch p50 {p50:.0f} us, p95 {p95:.0f}, p99 {p99:.0f}"
                f" (wall p50 {w50:.0f} us, p99 {w99:.0f})"
            )
    finally:
        await store.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--events", type=int, default=10)
    parser.add_argument("--conversations", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        server = PostgresServer(Path(root))
        server.start()
        try:
            url = server.create_database("owned_writes")
            asyncio.run(_run(url, args.samples, args.events, args.conversations))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
