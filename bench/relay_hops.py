"""The Redis part of a relayed interaction, alone: two processes, a real `redis-server`.

A *relay* process opens a pipe (cluster/redis_backend.py `RedisPipes`) to an *owner*
process and follows the conversation's event stream (`RedisEventStreams.follow`); the
owner accepts the pipe and, for every frame it receives, appends one event to the stream
(`append`, as server/event_stream.py does). Measured per message: the time from the
relay sending a frame to the relay holding the event it caused (p50/p95/p99), and the
CPU time each process spends per message (thread CPU time of its event loop, which the
load of other work on the machine does not inflate the way it does wall time). The pipe
message and the append go over the node's lean connection (cluster/resp.py), as in
`serve`; `--redis-py` sends them through redis-py instead (what a URL the lean
connection does not speak gets), to compare.

What the full cluster adds on top (the WebSocket on both sides, the conversation's
engine) is measured by bench/cluster.py; this isolates the two Redis hops a relay adds.

Run: unshare -n sh -c 'ip link set lo up && .venv/bin/python bench/relay_hops.py'
     [--messages 2000] [--pause 0.002] [--redis-py]
Needs redis-server (Debian's; scripts/setup --dev).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING

from percentiles import percentile

if TYPE_CHECKING:
    from openreplica.cluster.resp import RespConnection

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "support"))
from db_servers import RedisServer  # noqa: E402


def _cpu() -> tuple[float, float]:
    """This thread's user and system CPU seconds so far."""
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    return usage.ru_utime, usage.ru_stime


def _since(mark: tuple[float, float]) -> tuple[float, float]:
    now = _cpu()
    return now[0] - mark[0], now[1] - mark[1]


FRAME = (
    b'{"message_type":"conversation","event_type":"conversation.echo",'
    b'"properties":{"text":"hello there","inference_id":"e1"}}'
)
EVENT = (
    b'{"message_type":"conversation","event_type":"conversation.replica.started_speaking",'
    b'"conversation_id":"c","seq":0,"turn_idx":1,"timestamp":1.0,"properties":{}}'
)


def _owner_main(url: str, node: str, lean: bool, report: Connection) -> None:
    asyncio.run(_owner(url, node, lean, report))


def _writer(url: str, lean: bool) -> RespConnection | None:
    from openreplica.cluster.resp import RespAddress, RespConnection

    address = RespAddress.from_url(url)
    return RespConnection(address) if lean and address is not None else None


async def _owner(url: str, node: str, lean: bool, report: Connection) -> None:
    from redis.asyncio import Redis

    from openreplica.cluster import PipeClosed, RedisEventStreams, RedisPipes

    redis = Redis.from_url(url)
    writer = _writer(url, lean)
    pipes = RedisPipes(redis, writer=writer)
    streams = RedisEventStreams(redis, writer=writer)
    ready = asyncio.Event()
    accepting = pipes.accept(node, ready.set)
    first = asyncio.ensure_future(anext(accepting))
    await ready.wait()
    report.send("ready")
    request = await first
    pipe = pipes.attach(request)
    seq = counted = 0
    cpu = _cpu()
    while True:
        message = await pipe.receive()
        if isinstance(message, PipeClosed):
            break
        if message == b"mark":  # the relay starts measuring: so does the owner
            cpu, counted = _cpu(), 0
            continue
        seq += 1
        counted += 1
        await streams.append(request.conversation_id, [(seq, EVENT)])
    report.send((_since(cpu), counted))
    await redis.aclose()


async def _relay(
    url: str, node: str, messages: int, pause: float, lean: bool
) -> tuple[list[float], tuple[float, float]]:
    from redis.asyncio import Redis

    from openreplica.cluster import PipeOpen, RedisEventStreams, RedisPipes

    redis = Redis.from_url(url)
    writer = _writer(url, lean)
    pipes = RedisPipes(redis, writer=writer)
    streams = RedisEventStreams(redis, writer=writer)
    pipe = await pipes.open(node, PipeOpen("p1", "c", None, None, stream_events=True))
    arrived: asyncio.Queue[float] = asyncio.Queue()

    async def follow() -> None:
        async for batch in streams.follow("c", 0):
            for _ in batch:
                arrived.put_nowait(time.perf_counter())

    follower = asyncio.create_task(follow())
    warmup = 100
    for _ in range(warmup):
        await pipe.send(FRAME)
        await arrived.get()
    await pipe.send(b"mark")
    samples = []
    mark = _cpu()
    for _ in range(messages):
        await asyncio.sleep(pause)  # a user's pace, not a flood: each message alone
        sent = time.perf_counter()
        await pipe.send(FRAME)
        samples.append(await arrived.get() - sent)
    cpu = _since(mark)
    follower.cancel()
    await asyncio.gather(follower, return_exceptions=True)
    await pipe.close(1000, "done")
    await redis.aclose()
    return samples, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--pause", type=float, default=0.002, help="seconds between messages")
    parser.add_argument(
        "--redis-py", action="store_true", help="send through redis-py, not the lean connection"
    )
    args = parser.parse_args()
    import redis.utils

    with tempfile.TemporaryDirectory(prefix="bench-relay-") as tmp:
        server = RedisServer(Path(tmp))
        server.start()
        try:
            ctx = mp.get_context("spawn")
            here, there = ctx.Pipe()
            lean = not args.redis_py
            owner = ctx.Process(target=_owner_main, args=(server.url, "owner", lean, there))
            owner.start()
            assert here.recv() == "ready"
            samples, relay_cpu = asyncio.run(
                _relay(server.url, "owner", args.messages, args.pause, lean)
            )
            owner_cpu, appended = here.recv()
            owner.join(10)
        finally:
            server.stop()
    n = len(samples)
    print(f"redis-py {redis.__version__}, hiredis parser: {redis.utils.HIREDIS_AVAILABLE}")
    sent = "redis-py" if args.redis_py else "the lean connection (cluster/resp.py)"
    print(f"pipe messages and appends sent on {sent}; blocking reads on redis-py")
    print(f"{n} messages, one at a time ({args.pause * 1e3:g} ms apart)")
    print(
        f"frame sent → event back at the relay: p50 {percentile(samples, 50) * 1e3:.3f} ms, "
        f"p95 {percentile(samples, 95) * 1e3:.3f} ms, p99 {percentile(samples, 99) * 1e3:.3f} ms"
    )
    for side, (user, system), count in (("relay", relay_cpu, n), ("owner", owner_cpu, appended)):
        print(
            f"CPU per relayed message, {side}: {(user + system) / count * 1e6:4.0f} µs "
            f"(user {user / count * 1e6:4.0f} µs, system {system / count * 1e6:4.0f} µs; "
            "its event loop's thread)"
        )


if __name__ == "__main__":
    main()
