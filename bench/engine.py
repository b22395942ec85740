"""Engine and runtime benchmark: framework cost only (scripted plugins, zero model time).

Run: .venv/bin/python bench/engine.py [--runs 200] [--observability]

`--observability` runs the runtime figures twice in the same run, interleaved: with no
observer, and with the server's Prometheus metrics and per-turn OpenTelemetry traces
(a batch span processor, as `--traces otlp` uses), and prints the p95 change.

Prints, with medians and percentiles:
- interrupt received -> playout stopped (the end of the last audio frame handed to the
  sink; a frame already handed over plays out, so this is at most one 20 ms frame) and
  -> `replica.stopped_speaking` emitted;
- `conversation.respond` accepted -> first audio frame handed to the sink;
- engine CPU per turn (respond, tokens, synthesis, 1 s of playout reports, end), with no
  event loop: the pure state machine's overhead;
- events per second through the sequencer (stamp + encode) fanned out to 10 subscribers.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Callable, Sequence

from engine_work import engine_turn_ms, sequencer_fanout_s
from percentiles import percentile

from openreplica import protocol as p
from openreplica.engine import EngineSettings
from openreplica.plugins.scripted import ScriptedLLM, ScriptedTTS
from openreplica.runtime import (
    NULL_OBSERVER,
    ConversationRuntime,
    Observers,
    RuntimeObserver,
    RuntimePlugins,
    SystemClock,
)

RATE = 16000
REPLY = "This is a fairly long reply so that there is plenty of audio to interrupt."


def row(name: str, values_ms: Sequence[float]) -> None:
    print(
        f"{name:52} p50 {percentile(values_ms, 50):8.3f}  p95 {percentile(values_ms, 95):8.3f}  "
        f"p99 {percentile(values_ms, 99):8.3f}  ms  (n={len(values_ms)})"
    )


class Sink:
    def __init__(self) -> None:
        self.first_write: float | None = None
        self.last_write = 0.0

    def write(self, pcm: bytes, sample_rate: int) -> None:
        now = time.perf_counter()
        if self.first_write is None:
            self.first_write = now
        self.last_write = now


async def one_run(observer: RuntimeObserver = NULL_OBSERVER) -> tuple[float, float, float]:
    """(respond -> first frame, interrupt -> playout stopped, -> stopped_speaking), in ms."""
    runtime = ConversationRuntime(
        "bench",
        EngineSettings(output_sample_rate=RATE),
        RuntimePlugins(tts=ScriptedTTS(sample_rate=RATE), llm=ScriptedLLM.replies(REPLY)),
        SystemClock(),
        observer=observer,
    )
    sink = Sink()
    stopped_at: list[float] = []

    def listener(event: p.Event, data: bytes) -> None:
        if isinstance(event, p.ReplicaStoppedSpeaking):
            stopped_at.append(time.perf_counter())

    runtime.subscribe(listener)
    runtime.add_speech_listener(sink)
    await runtime.start()
    accepted = time.perf_counter()
    runtime.submit(p.Respond(properties=p.RespondProps(text="Talk to me.")))
    while sink.first_write is None:
        await asyncio.sleep(0)
    first_frame = (sink.first_write - accepted) * 1000
    # in the middle of the reply, at a random phase of the 20 ms frame clock
    await asyncio.sleep(random.uniform(0.2, 0.22))
    interrupted = time.perf_counter()
    runtime.submit(p.Interrupt())
    emitted = (stopped_at[0] - interrupted) * 1000
    await asyncio.sleep(0.06)  # long enough to see any frame written after the stop
    # the last frame handed over before the stop plays for 20 ms
    playout_stopped = max(0.0, (sink.last_write + 0.02 - interrupted) * 1000)
    await runtime.shutdown("bench")
    return first_frame, playout_stopped, emitted


def engine_turn_cpu(runs: int) -> list[float]:
    """Pure engine time per turn, in ms (no asyncio, no models)."""
    return engine_turn_ms(runs, REPLY, RATE, time.perf_counter)


def sequencer_fanout(events: int = 50_000, subscribers: int = 10) -> float:
    """Events per second through the sequencer (stamp + encode) to `subscribers`."""
    return events / sequencer_fanout_s(events, subscribers, time.perf_counter)


def observability() -> Callable[[], RuntimeObserver]:
    """Metrics and traces as the server wires them (spans kept in memory)."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from openreplica.server.metrics import ServerMetrics
    from openreplica.server.tracing import TurnTracer

    metrics = ServerMetrics()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(InMemorySpanExporter()))
    tracer = TurnTracer(provider)
    return lambda: Observers([metrics.conversation("bench"), tracer.conversation("bench")])


async def compare(runs: int) -> None:
    """Observer off and on, interleaved so both see the same machine load."""
    observed = observability()
    off: list[tuple[float, float, float]] = []
    on: list[tuple[float, float, float]] = []
    for _ in range(runs):
        off.append(await one_run())
        on.append(await one_run(observed()))
    print(f"observability off vs on (metrics + traces), interleaved, {runs} runs each")
    names = ("respond accepted -> first audio frame", "interrupt -> playout stopped")
    for i, name in enumerate(names):
        row(f"{name} [off]", [r[i] for r in off])
        row(f"{name} [on]", [r[i] for r in on])
        before, after = percentile([r[i] for r in off], 95), percentile([r[i] for r in on], 95)
        print(f"{'':52} p95 change {100 * (after - before) / before:+.1f} %")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument(
        "--observability", action="store_true", help="compare metrics and traces off vs on"
    )
    args = parser.parse_args()
    if args.observability:
        await compare(args.runs)
        return
    runs = [await one_run() for _ in range(args.runs)]
    print(f"framework only: scripted LLM and TTS with zero model time, {args.runs} runs")
    row("respond accepted -> first audio frame at the sink", [r[0] for r in runs])
    row("interrupt -> playout stopped (end of last frame)", [r[1] for r in runs])
    row("interrupt -> replica.stopped_speaking emitted", [r[2] for r in runs])
    row("engine CPU per turn (15 words, 1 s of playout)", engine_turn_cpu(args.runs))
    print(f"{'sequencer + encode, 10 subscribers':52} {sequencer_fanout():,.0f} events/s")


if __name__ == "__main__":
    asyncio.run(main())
