"""Drain on SIGTERM in the middle of a reply: three real `openreplica serve` nodes on a
real Redis and PostgreSQL that this script starts (loopback only, run it inside
`unshare -n`, see below), scripted plugins (tone TTS, echoing LLM).

Each trial: a client relayed through another node starts a long reply, the owner is sent
SIGTERM at its first words, and the script times, from the signal,
- `ended`: the cut reply's `conversation.replica.stopped_speaking` reaching the client
  (the new owner runs the conversation: the draining node halted it, offered it, and
  the new owner restored it and sent the closing events through the stream);
- `answered`: the first event of the new owner's reply to a `conversation.respond` sent
  then;
- `exited`: the draining process gone (its whole drain);
and checks that the client got every `seq` exactly once and no `system.shutdown`. The
drained node is started again for the next trial. Prints p50, p95, p99 and worst of each
(with 10 trials the tail percentiles are the worst ones). Compare bench/takeover.py
(kill -9: the heartbeat must expire first).

Run: unshare -n sh -c 'ip link set lo up && .venv/bin/python bench/drain.py' [--trials 10]
Needs postgresql and redis-server (Debian packages; scripts/setup --dev).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import websockets

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "support"))
from cluster_nodes import KEY, Nodes, running_nodes  # noqa: E402
from db_servers import running_servers  # noqa: E402
from takeover import LONG, PROPERTIES, respond  # noqa: E402  (same set-up as kill -9)


async def trial(nodes: Nodes) -> tuple[float, float, float]:
    made = nodes.create(nodes.nodes[0], properties=PROPERTIES)
    cid, owner = made["conversation_id"], made["node_id"]
    relay = nodes.others(owner)[0]
    draining = nodes.by_id(owner)
    events: list[dict[str, Any]] = []

    async def until(ws: Any, done: Any) -> dict[str, Any]:
        async with asyncio.timeout(60):
            while True:
                event = json.loads(await ws.recv())
                if "seq" in event:
                    events.append(event)
                if done(event):
                    return dict(event)

    async with websockets.connect(relay.ws_url(cid), additional_headers=KEY) as ws:
        await ws.send(respond(LONG))
        await until(ws, lambda e: e["event_type"] == "conversation.utterance.streaming")
        signalled = time.perf_counter()
        stopping = asyncio.create_task(asyncio.to_thread(draining.stop, signal.SIGTERM))
        await until(ws, lambda e: e["event_type"] == "conversation.replica.stopped_speaking")
        ended = time.perf_counter() - signalled
        await ws.send(respond("still there?"))
        await until(ws, lambda e: e["event_type"] == "conversation.replica.started_speaking")
        answered = time.perf_counter() - signalled
        await stopping
        exited = time.perf_counter() - signalled
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "a gap or a duplicate"
    assert not any(e["event_type"] == "system.shutdown" for e in events), "it ended"
    assert draining.process is not None and draining.process.returncode in (0, -15)
    draining.start()  # back, as a new process, for the next trial
    return ended, answered, exited


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def main_async(args: argparse.Namespace) -> None:
    results: dict[str, list[float]] = {"cut reply ended": [], "new owner answers": [], "exited": []}
    with tempfile.TemporaryDirectory(prefix="bench-drain-") as tmp:
        root = Path(tmp)
        with (
            running_servers(root) as (postgres, redis),
            running_nodes(root / "nodes", redis, postgres, capacity=0) as nodes,
        ):
            for n in nodes.nodes:
                n.ready_timeout = 90
            for i in range(args.trials):
                e, a, x = await trial(nodes)
                for name, value in zip(results, (e, a, x), strict=True):
                    results[name].append(value)
                print(
                    f"  trial {i + 1}: reply ended {e:.2f} s, answered {a:.2f} s, "
                    f"drained node exited {x:.2f} s",
                    flush=True,
                )
    print("\n## Drain on SIGTERM mid-reply (time from the signal)\n")
    for name, values in results.items():
        print(
            f"{name:18}: p50 {statistics.median(values):.2f} s, "
            f"p95 {_percentile(values, 95):.2f} s, p99 {_percentile(values, 99):.2f} s, "
            f"worst {max(values):.2f} s ({len(values)} trials)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
