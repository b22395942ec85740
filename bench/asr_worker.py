"""PocketSphinx in-process vs in a worker process, as the server's event loop sees it.

For each mode (`--workers 0` in-process, `1` a worker) it feeds a spoken question
(Piper, ~2.4 s) in 32 ms pushes and then asks for the final, `--runs` times, and prints
p50/p95/p99 of:
  - the longest gap of a 1 ms ticker task on the loop while `finish` runs (the stall
    every other conversation sees), and the same gap while idle, for reference;
  - the server process's CPU per second of speech: the loop's thread (thread_time)
    and the whole process (process_time), pushes and final together;
  - `finish`'s wall time (end of speech -> final transcript).
Then the memory: the worker's RSS when started and per decoder built (full en-us LM).
CPU figures are load-independent; wall figures include the machine's load (printed).

    PYTHONPATH=src .venv/bin/python bench/asr_worker.py --runs 10
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from percentiles import percentile

from openreplica.plugins.asr_pocketsphinx import PocketSphinxASR
from openreplica.plugins.asr_worker import Kind
from openreplica.plugins.audio import resample, silence
from openreplica.plugins.tts_piper import PiperTTS

RATE = 16000
QUESTION = "What is the weather like in London today?"
CHUNK = 2 * 512  # 32 ms


def row(name: str, values: Sequence[float], scale: float = 1000.0, unit: str = "ms") -> str:
    p = [scale * percentile(values, q) for q in (50, 95, 99)]
    return f"  {name:44} p50 {p[0]:7.1f}  p95 {p[1]:7.1f}  p99 {p[2]:7.1f} {unit}"


async def speech() -> bytes:
    tts = PiperTTS.default(threads=1, noise_scale=0.0, noise_w_scale=0.0)
    tts.load()
    pcm = b"".join([c.pcm async for c in tts.synthesize(QUESTION)])
    return resample(pcm, tts.sample_rate, RATE) + silence(RATE // 5)


class Ticker:
    """A task waking every 1 ms; `max_gap` since `reset`."""

    def __init__(self) -> None:
        self.max_gap = 0.0
        self._last = time.perf_counter()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            self.max_gap = max(self.max_gap, now - self._last)
            self._last = now

    def reset(self) -> None:
        self._last, self.max_gap = time.perf_counter(), 0.0

    def stop(self) -> None:
        self._task.cancel()


async def measure(workers: int, pcm: bytes, runs: int) -> None:
    asr = PocketSphinxASR(workers=workers)
    await asr.awarm(1)
    ticker = Ticker()
    idle_gap, final_gap, loop_cpu, proc_cpu, final_wall, texts = [], [], [], [], [], set()
    seconds = len(pcm) / 2 / RATE
    try:
        for _ in range(runs + 1):  # the first is a warm-up
            stream = asr.create_stream()
            await stream.prepare()
            ticker.reset()
            await asyncio.sleep(0.1)
            gap_idle = ticker.max_gap
            t0, p0 = time.thread_time(), time.process_time()
            for i in range(0, len(pcm), CHUNK):
                await stream.push(pcm[i : i + CHUNK])
            ticker.reset()
            started = time.perf_counter()
            final = await stream.finish()
            wall = time.perf_counter() - started
            await asyncio.sleep(0.002)  # the ticker's first wake after the final
            gap_final = ticker.max_gap
            t1, p1 = time.thread_time(), time.process_time()
            await stream.aclose()
            if _ == 0:
                continue
            idle_gap.append(gap_idle)
            final_gap.append(gap_final)
            loop_cpu.append((t1 - t0) / seconds)
            proc_cpu.append((p1 - p0) / seconds)
            final_wall.append(wall)
            texts.add(final.text)
    finally:
        ticker.stop()
        await asr.aclose()
    where = f"{workers} worker process" if workers else "in-process"
    print(f"\nPocketSphinx {where}, {runs} runs of {seconds:.2f} s of speech")
    print(row("loop: longest 1 ms-ticker gap while idle", idle_gap))
    print(row("loop: longest 1 ms-ticker gap during finish", final_gap))
    print(row("finish wall (end of speech -> final)", final_wall))
    print(row("loop thread CPU per second of speech", loop_cpu))
    print(row("server process CPU per second of speech", proc_cpu))
    print(f"  transcripts: {sorted(texts)}")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def memory(decoders: int) -> None:
    asr = PocketSphinxASR(workers=1)
    try:
        client = await asr.worker()
        await client.request(Kind.WARM, 0, b"0\n")
        base = rss_mb(client.pid)
        sizes = []
        for n in range(1, decoders + 1):
            await client.request(Kind.WARM, 0, f"{n}\n".encode())
            sizes.append(rss_mb(client.pid))
    finally:
        await asr.aclose()
    steps = [b - a for a, b in zip([base, *sizes], sizes, strict=False)]
    print(f"\nmemory (RSS of the worker, full en-us LM): started {base:.0f} MB")
    print(
        f"  first decoder +{steps[0]:.0f} MB, each further one +{statistics.mean(steps[1:]):.1f} MB"
    )
    print(f"  with {decoders} decoders: {sizes[-1]:.0f} MB")


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--modes", default="0,1", help="worker counts to compare (0: in-process)")
    parser.add_argument("--decoders", type=int, default=4, help="decoders for the memory figure")
    args = parser.parse_args(argv)
    pcm = await speech()
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    for mode in (int(m) for m in args.modes.split(",")):
        await measure(mode, pcm, args.runs)
    await memory(args.decoders)
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
