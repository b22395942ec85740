"""CPU cost per relayed interaction of keeping interactions for a takeover
(server/relay_resend.py): the relay's bookkeeping (number it, keep it, drop it when
acknowledged, under the send lock) and the owner's (count it, check it was not handled,
acknowledge it, with the acknowledgement task), without Redis, in CPU time (the load of
other processes does not distort it). Each sample is a block of interactions; p50/p95/p99
are per interaction, in microseconds.

On Redis: one `XADD` + `EXPIRE` (pipelined) per acknowledgement, one per interaction
when they come one at a time, fewer in bursts (one acknowledgement in flight covers what
was handled meanwhile), and one header frame per pipe opened. `--redis` starts a
redis-server (Debian's) and also times, in CPU, one acknowledgement through a real pipe:
the owner's send and the relay's read of it.

    .venv/bin/python bench/relay_resend.py [--samples 300] [--block 100] [--redis]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from percentiles import percentile

from openreplica.server.relay_resend import Handled, Inbound, Unacked

FRAME = (
    b'{"message_type":"conversation","event_type":"conversation.echo","properties":{"text":"hi"}}'
)


def _percentiles(values: list[float]) -> tuple[float, float, float]:
    return percentile(values, 50), percentile(values, 95), percentile(values, 99)


async def _run(samples: int, block: int) -> None:
    relay = Unacked()
    lock = asyncio.Lock()
    acks: list[bytes] = []

    async def send(frame: bytes) -> None:
        acks.append(frame)

    async def no_wait(_seconds: float) -> None:
        return None

    inbound = Inbound(Handled(), send, no_wait)
    inbound.accept(relay.header())
    relay_us: list[float] = []
    owner_us: list[float] = []
    acks_sent = 0
    for _ in range(samples):
        relay_cpu = owner_cpu = 0
        for _ in range(block):
            start = time.thread_time_ns()
            async with lock:  # the relay, sending one interaction up
                relay.sent(FRAME)
            relay_cpu += time.thread_time_ns() - start

            start = time.thread_time_ns()
            if inbound.accept(FRAME):  # the owner, handing it to its channel
                inbound.done()
            for _ in range(3):  # the acknowledgement task sends (no delay here)
                await asyncio.sleep(0)
            owner_cpu += time.thread_time_ns() - start

            start = time.thread_time_ns()
            for frame in acks:  # the relay, reading the acknowledgement
                relay.on_control(frame)
            relay_cpu += time.thread_time_ns() - start
            acks_sent += len(acks)
            acks.clear()
        relay_us.append(relay_cpu / block / 1000)
        owner_us.append(owner_cpu / block / 1000)
    await inbound.aclose()
    assert relay.pending() == []
    for side, values in (("relay", relay_us), ("owner", owner_us)):
        p50, p95, p99 = _percentiles(values)
        print(f"{side}: CPU per interaction p50 {p50:.2f} us, p95 {p95:.2f} us, p99 {p99:.2f} us")
    print(f"acknowledgements: {acks_sent / (samples * block):.2f} per interaction (one at a time)")


async def _through_redis(url: str, samples: int) -> None:
    from redis.asyncio import Redis

    from openreplica.cluster import PipeOpen, RedisPipes

    redis = Redis.from_url(url)
    pipes = RedisPipes(redis)
    request = PipeOpen("p-bench", "c-bench", None, None, stream_events=True)
    relay_end = await pipes.open("n-bench", request)
    owner_end = pipes.attach(request)
    owner_us: list[float] = []
    relay_us: list[float] = []
    for i in range(samples):
        start = time.thread_time_ns()
        await owner_end.send(b"\0ack " + str(i).encode())
        owner_us.append((time.thread_time_ns() - start) / 1000)
        start = time.thread_time_ns()
        await relay_end.receive()
        relay_us.append((time.thread_time_ns() - start) / 1000)
    await redis.aclose()
    for side, values in (("owner sends", owner_us), ("relay reads", relay_us)):
        p50, p95, p99 = _percentiles(values)
        print(f"one ack through Redis, {side}: CPU p50 {p50:.0f} us, p95 {p95:.0f}, p99 {p99:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--block", type=int, default=100)
    parser.add_argument("--redis", action="store_true", help="also time an ack through Redis")
    args = parser.parse_args()
    asyncio.run(_run(args.samples, args.block))
    if args.redis:
        import sys
        import tempfile
        from pathlib import Path

        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))
        from db_servers import RedisServer

        with tempfile.TemporaryDirectory() as root:
            server = RedisServer(Path(root))
            server.start()
            try:
                asyncio.run(_through_redis(server.url, args.samples))
            finally:
                server.stop()


if __name__ == "__main__":
    main()
