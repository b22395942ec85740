"""Before/after in thread CPU time: the figures of bench/engine.py and bench/codec.py
(engine per turn, a runtime turn on a virtual clock, sequencer + encode, decode and
encode per message) for two source trees, interleaved in one run. Thread CPU time is not
distorted by other processes' load on the machine, which wall-clock percentiles are.

Run: .venv/bin/python bench/before_after.py --before /tmp/main/src --after src [--reps 20]
(e.g. `git archive main src | tar -x -C /tmp/main` for the before tree). Prints p50, p95
and p99 of each tree and the p95 change.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from engine_work import engine_turn_ms, sequencer_fanout_s
from percentiles import percentile

from openreplica import protocol as p
from openreplica.engine import EngineSettings
from openreplica.plugins.scripted import ScriptedLLM, ScriptedTTS
from openreplica.runtime import ConversationRuntime, RuntimePlugins, VirtualClock

RATE = 16000
REPLY = "Sure, here is a reply of fifteen words that the scripted model streams token by token."


def engine_turn_cpu(runs: int) -> list[float]:
    return engine_turn_ms(runs, REPLY, RATE, time.thread_time)


class Sink:
    frames = 0

    def write(self, pcm: bytes, sample_rate: int) -> None:
        self.frames += 1


async def runtime_turn_cpu(runs: int) -> list[float]:
    """One respond turn through the runtime on a virtual clock (LLM, TTS, playout in 20 ms
    frames to one sink, events to a subscriber), thread CPU ms per turn."""
    samples = []
    for _ in range(runs):
        clock = VirtualClock()
        runtime = ConversationRuntime(
            "bench",
            EngineSettings(output_sample_rate=RATE),
            RuntimePlugins(tts=ScriptedTTS(sample_rate=RATE), llm=ScriptedLLM.replies(REPLY)),
            clock,
        )
        sink = Sink()
        # `set_audio_sink` in trees from before `add_speech_listener` (issue 16)
        attach = getattr(runtime, "add_speech_listener", None) or runtime.set_audio_sink
        attach(sink)
        runtime.subscribe(lambda event, data: None)
        await runtime.start()
        await clock.advance(0.5)
        start = time.thread_time()
        runtime.submit(p.Respond(properties=p.RespondProps(text="Talk to me.")))
        await clock.advance(12.0)
        samples.append((time.thread_time() - start) * 1000)
        assert sink.frames > 100, sink.frames
        await runtime.shutdown("bench")
    return samples


def sequencer_cpu(batches: int = 20, events: int = 5000) -> list[float]:
    """µs of thread CPU per event (stamp + encode + 10 subscribers)."""
    return [sequencer_fanout_s(events, 10, time.thread_time) / events * 1e6 for _ in range(batches)]


def codec_cpu(rounds: int, fixtures: Path) -> dict[str, list[float]]:
    """µs of thread CPU per message, rounds of 200 calls, all golden fixtures pooled
    (decode+validate interactions; encode events)."""
    inter = [
        line.encode()
        for line in (fixtures / "golden_interactions.jsonl").read_text().splitlines()
        if line.strip()
    ]
    events = [
        p.decode_event(line)
        for line in (fixtures / "golden_events.jsonl").read_text().splitlines()
        if line.strip()
    ]
    dec: list[float] = []
    enc: list[float] = []
    for _ in range(rounds):
        for line in inter:
            start = time.thread_time()
            for _ in range(200):
                p.decode_interaction(line, conversation_id="c123")
            dec.append((time.thread_time() - start) / 200 * 1e6)
        for ev in events:
            start = time.thread_time()
            for _ in range(200):
                p.encode(ev)
            enc.append((time.thread_time() - start) / 200 * 1e6)
    return {"decode_us": dec, "encode_us": enc}


async def measure(fixtures: Path) -> None:
    out = {
        "engine_turn_ms": engine_turn_cpu(100),
        "runtime_turn_ms": await runtime_turn_cpu(15),
        "sequencer_us_per_event": sequencer_cpu(),
        **codec_cpu(20, fixtures),
    }
    print(json.dumps(out))


def compare(before: str, after: str, reps: int) -> None:
    trees = {"before": before, "after": after}
    samples: dict[str, dict[str, list[float]]] = {t: {} for t in trees}
    for _ in range(reps):
        for tree, src in trees.items():
            env = {**os.environ, "PYTHONPATH": str(Path(src).resolve())}
            result = subprocess.run(
                [sys.executable, __file__, "--measure"], env=env, capture_output=True, text=True
            )
            result.check_returncode()
            for name, values in json.loads(result.stdout).items():
                samples[tree].setdefault(name, []).extend(values)
    print(f"thread CPU time, {reps} interleaved repetitions per tree")
    for name in samples["before"]:
        cells = []
        for tree in trees:
            xs = samples[tree][name]
            cells.append(
                f"{tree} " + " ".join(f"p{q} {percentile(xs, q):8.4f}" for q in (50, 95, 99))
            )
        b, a = percentile(samples["before"][name], 95), percentile(samples["after"][name], 95)
        print(f"{name:24} " + " | ".join(cells) + f" | p95 {100 * (a - b) / b:+.1f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", help="the source tree before (its src/ directory)")
    parser.add_argument("--after", help="the source tree after")
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        asyncio.run(measure(Path(__file__).parents[1] / "tests" / "fixtures"))
    elif args.before and args.after:
        compare(args.before, args.after, args.reps)
    else:
        parser.error("give --before and --after")


if __name__ == "__main__":
    main()
