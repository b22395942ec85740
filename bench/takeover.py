"""Takeover after kill -9 in the middle of a reply: three real `openreplica serve` nodes
on a real Redis and PostgreSQL that this script starts (loopback only, run it inside
`unshare -n`, see below), scripted plugins (tone TTS, echoing LLM).

Each trial: a client relayed through a surviving node starts a long reply, the owner is
killed -9 at its first words, and the script times, from the kill,
- `ended`: the cut reply's `conversation.replica.stopped_speaking` reaching the client
  (the new owner runs the conversation: it restored the state and sent the closing
  events through the stream);
- `answered`: the first event of the new owner's reply to a `conversation.respond` sent
  then (the conversation goes on);
and checks that the client got every `seq` exactly once. The killed node is restarted
(as a new process with the same id) for the next trial. Prints p50 and worst of each.
Target: ≤ 5 s with the defaults; it is ≈ `--node-ttl` + up to one `--node-heartbeat`.
bench/cluster.py (part 3) measures a client resuming by `last_seq` on a surviving node.

Run: unshare -n sh -c 'ip link set lo up && .venv/bin/python bench/takeover.py'
     [--trials 10] [--heartbeat 1] [--ttl 5]
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

from openreplica.server.settings import ServerSettings

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "support"))
from cluster_nodes import KEY, Nodes, running_nodes  # noqa: E402
from db_servers import running_servers  # noqa: E402

LONG = " ".join(f"word{i}" for i in range(60))  # ~12 s of speech
PROPERTIES = {"max_call_duration": 86400, "participant_left_timeout": 600}


def respond(text: str) -> str:
    return json.dumps(
        {
            "message_type": "conversation",
            "event_type": "conversation.respond",
            "properties": {"text": text},
        }
    )


async def trial(nodes: Nodes) -> tuple[float, float]:
    made = nodes.create(nodes.nodes[0], properties=PROPERTIES)
    cid, owner = made["conversation_id"], made["node_id"]
    relay = nodes.others(owner)[0]
    seqs: list[int] = []

    async def until(ws: Any, done: Any) -> dict[str, Any]:
        async with asyncio.timeout(60):
            while True:
                event = json.loads(await ws.recv())
                if "seq" in event:
                    seqs.append(event["seq"])
                if done(event):
                    return dict(event)

    async with websockets.connect(relay.ws_url(cid), additional_headers=KEY) as ws:
        await ws.send(respond(LONG))
        await until(ws, lambda e: e["event_type"] == "conversation.utterance.streaming")
        killed = time.perf_counter()
        nodes.by_id(owner).stop(signal.SIGKILL)
        await until(ws, lambda e: e["event_type"] == "conversation.replica.stopped_speaking")
        ended = time.perf_counter() - killed
        await ws.send(respond("still there?"))
        await until(ws, lambda e: e["event_type"] == "conversation.replica.started_speaking")
        answered = time.perf_counter() - killed
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "a gap or a duplicate"
    nodes.by_id(owner).start()  # back, as a new process, for the next trial
    return ended, answered


async def main_async(args: argparse.Namespace) -> None:
    env = {"OPENREPLICA_NODE_HEARTBEAT": str(args.heartbeat), "OPENREPLICA_NODE_TTL": str(args.ttl)}
    ended: list[float] = []
    answered: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-takeover-") as tmp:
        root = Path(tmp)
        with (
            running_servers(root) as (postgres, redis),
            running_nodes(root / "nodes", redis, postgres, capacity=0, env=env) as nodes,
        ):
            for n in nodes.nodes:
                n.ready_timeout = 90
            for i in range(args.trials):
                e, a = await trial(nodes)
                ended.append(e)
                answered.append(a)
                print(f"  trial {i + 1}: reply ended {e:.2f} s, answered {a:.2f} s", flush=True)
    print(
        f"\n## Takeover after kill -9 mid-reply (heartbeat {args.heartbeat} s, TTL {args.ttl} s)\n"
    )
    for name, values in (("cut reply ended", ended), ("new owner answers", answered)):
        print(
            f"{name:18}: p50 {statistics.median(values):.2f} s, worst {max(values):.2f} s "
            f"({len(values)} trials; target ≤ 5 s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10)
    defaults = ServerSettings()
    parser.add_argument(
        "--heartbeat", type=float, default=defaults.node_heartbeat, help="--node-heartbeat (s)"
    )
    parser.add_argument("--ttl", type=float, default=defaults.node_ttl, help="--node-ttl (s)")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
