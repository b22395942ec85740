"""How much of one event loop N Opus audio streams take: encoded on the loop (what
`ReplicaAudioTrack.encode_opus` does) versus aiortc's way, each 20 ms frame sent to the
loop's default thread pool and awaited.

A filler coroutine does pure-Python work in small chunks on the same loop (uvloop, as
the server runs) while N streams encode one frame each per 20 ms; the chunks it completes
per second, against a run with no stream, are the loop capacity the streams leave for a
worker's other work. Per-thread CPU time cannot show this: a pool thread holds the GIL
for the Python half of its work, which the loop then waits for without using CPU.

Run: .venv/bin/python bench/opus_loop.py [--streams 40] [--seconds 6] [--repeat 2]
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import time

import av
import uvloop
from aiortc.codecs.opus import OpusEncoder

FRAME = 960  # 20 ms at 48 kHz


def _frame(index: int) -> av.AudioFrame:
    frame = av.AudioFrame(format="s16", layout="mono", samples=FRAME)
    frame.planes[0].update(bytes(2 * FRAME))
    frame.sample_rate = 48_000
    frame.pts = index * FRAME
    frame.time_base = fractions.Fraction(1, 48_000)
    return frame


def _chunk() -> int:
    total = 0
    for i in range(4000):
        total += i * i
    return total


async def _run(mode: str, streams: int, seconds: float) -> tuple[float, float, float]:
    """(filler chunks/s, frames/s per stream, loop thread CPU %)"""
    loop = asyncio.get_running_loop()
    stop = time.monotonic() + seconds
    encoded = [0]

    async def stream() -> None:
        encoder, index, start = OpusEncoder(), 0, time.monotonic()
        while time.monotonic() < stop:
            index += 1
            await asyncio.sleep(max(0.0, start + index * 0.02 - time.monotonic()))
            if mode == "loop":
                encoder.encode(_frame(index))
            else:
                await loop.run_in_executor(None, encoder.encode, _frame(index))
            encoded[0] += 1

    async def filler() -> int:
        done = 0
        while time.monotonic() < stop:
            _chunk()
            done += 1
            await asyncio.sleep(0)
        return done

    cpu0 = time.thread_time()
    chunks, *_ = await asyncio.gather(filler(), *(stream() for _ in range(streams)))
    loop_cpu = (time.thread_time() - cpu0) / seconds * 100
    return chunks / seconds, encoded[0] / seconds / max(streams, 1), loop_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    print("| encode | streams | filler chunks/s | loop taken | frames/s/stream | loop CPU % |")
    print("|---|---|---|---|---|---|")
    idle = []
    for _ in range(args.repeat):
        chunks, _, cpu = uvloop.run(_run("loop", 0, args.seconds))
        idle.append(chunks)
        print(f"| none | 0 | {chunks:.0f} | | | {cpu:.0f} |")
    base = sum(idle) / len(idle)
    for _ in range(args.repeat):
        for mode in ("pool", "loop"):
            chunks, rate, cpu = uvloop.run(_run(mode, args.streams, args.seconds))
            taken = (1 - chunks / base) * 100
            print(
                f"| {mode} | {args.streams} | {chunks:.0f} | {taken:.0f} % | {rate:.1f} "
                f"| {cpu:.0f} |"
            )


if __name__ == "__main__":
    main()
