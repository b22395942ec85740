"""bench/voice.py's turn-taking section: the synthetic speech set in real time through
the fixed-silence baseline, the fixed silence with preemptive replies, and the end-of-turn
model with preemptive replies (see voice.py's docstring for the columns)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from percentiles import percentile

from openreplica import protocol as p
from openreplica.engine import EngineSettings, TurnTaking
from openreplica.engine import io as e
from openreplica.plugins.audio import resample
from openreplica.plugins.base import RunStop, RunStopped
from openreplica.plugins.tts_espeak import EspeakTTS
from openreplica.runtime import SystemClock

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
from speech_set import RATE, Utterance, speech_set

IN_RATE, CHUNK = 48000, 0.02
MODEL_PATH = Path(__file__).resolve().parents[1] / ".cache" / "models" / "smart-turn-v3.2-cpu.onnx"


class TimedTurnModel:
    """Wraps the model to record the CPU time of each run (in its worker thread), and
    of those stopped because their decision was moot."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name = inner, inner.name
        self.cpu: list[float] = []
        self.stopped: list[float] = []

    def completion_probability(self, pcm16k: bytes, stop: RunStop | None = None) -> float:
        started = time.thread_time()
        try:
            return float(self.inner.completion_probability(pcm16k, stop))
        except RunStopped:
            self.stopped.append(time.thread_time() - started)
            raise
        finally:
            self.cpu.append(time.thread_time() - started)

    def sentence_end_probability(self, text: str) -> float | None:
        ends: float | None = self.inner.sentence_end_probability(text)
        return ends


@dataclass
class SetResult:
    first_audio: list[float] = field(default_factory=list)
    commit: list[float] = field(default_factory=list)
    after_commit: list[float] = field(default_factory=list)
    by_voice: dict[str, list[float]] = field(default_factory=dict)
    cut_off: int = 0
    hesitant: int = 0
    held_cut_off: int = 0
    held_hesitant: int = 0
    wasted: int = 0
    started: int = 0
    decided_by_model: int = 0
    decided_by_silence: int = 0
    #: complete utterances: wall-clock ms of each step after the last audible sample
    timeline: dict[str, list[float]] = field(default_factory=dict)
    used: int = 0


def stereo48(pcm16k: bytes) -> bytes:
    mono = np.frombuffer(resample(pcm16k, RATE, IN_RATE), dtype="<i2")
    return np.repeat(mono, 2).astype("<i2").tobytes()


#: the per-step timeline's rows, in order (see `timeline`)
STEPS = (
    "first silent frame fed",
    "pause counted from",
    "first reply LLM call",
    "final pass start",
    "final pass end",
    "end confirmed fed",
    "final transcript fed",
    "decision fed",
    "commit",
    "used reply: LLM call",
    "used reply: first token",
    "used reply: TTS call",
    "used reply: TTS first audio",
    "first replica audio",
)


def timeline(trace: Any, asr: Any, speech_end: float) -> dict[str, float]:
    """When each step of the end of a turn happened (wall clock, seconds after the last
    audible sample); a step that did not happen is left out. "used reply" is the
    generation whose audio was heard first (the preemptive reply when it was used)."""

    def first_input(kind: type, final: bool | None = None) -> float | None:
        for t, x in trace.inputs:
            if t >= speech_end and isinstance(x, kind) and (final is None or x.final == final):
                return float(t)
        return None

    played = next(
        (x.gen for t, x in trace.inputs if t >= speech_end and isinstance(x, e.AudioPlayed)),
        None,
    )

    def mark(step: str, gen: int | None = None) -> float | None:
        return next(
            (
                t
                for name, g, t in trace.marks
                if name == step and t >= speech_end and (gen is None or g == gen)
            ),
            None,
        )

    def counted_from() -> float | None:
        """Where the engine counts the pause from (the floor's start): the end's feed
        time less its `detected_after`."""
        for t, x in trace.inputs:
            if t >= speech_end and isinstance(x, e.UserSpeechEnded):
                return float(t) - x.detected_after
        return None

    finishes = [(a, b) for a, b in asr.finishes if a >= speech_end]
    commits = [
        t for t, x in trace.events if isinstance(x, p.Utterance) and x.properties.role == "user"
    ]
    at: dict[str, float | None] = {
        "first silent frame fed": first_input(e.UserSpeechPausing),
        "pause counted from": counted_from(),
        "first reply LLM call": mark("llm_started"),
        "final pass start": finishes[0][0] if finishes else None,
        "final pass end": finishes[0][1] if finishes else None,
        "end confirmed fed": first_input(e.UserSpeechEnded),
        "final transcript fed": first_input(e.UserTranscript, final=True),
        "decision fed": first_input(e.TurnScored),
        "commit": commits[-1] if commits else None,
        "first replica audio": next((t for t in trace.frames if t > speech_end), None),
    }
    if played is not None:
        at["used reply: LLM call"] = mark("llm_started", played)
        at["used reply: first token"] = mark("llm_first_token", played)
        at["used reply: TTS call"] = mark("tts_started", played)
        at["used reply: TTS first audio"] = mark("tts_first_audio", played)
    return {k: v - speech_end for k, v in at.items() if v is not None}


async def one(
    models: Any, u: Utterance, level: str, preempt: bool, turn: Any, new_runtime: Callable[..., Any]
) -> tuple[tuple[float, float, float] | None, bool, Any, dict[str, float]]:
    """((end of speech -> first audio, -> commit, commit -> first audio) or None, cut off
    during the pause?, turn stats, the per-step timeline)."""
    clock = SystemClock()
    settings = EngineSettings(
        turn_taking=TurnTaking(pause_sensitivity=level),  # type: ignore[arg-type]
        preemptive_replies=preempt,
    )
    runtime, trace, asr, _ = new_runtime(models, clock, settings, turn)
    await runtime.start()
    pcm = stereo48(u.pcm)
    step = round(IN_RATE * CHUNK) * 4
    start = clock.now() + 0.05
    speech_end = start + u.end
    pause_end = start + u.pause[1] if u.pause else None

    async def feed() -> None:
        for k, i in enumerate(range(0, len(pcm), step)):
            await clock.sleep_until(start + (k + 1) * CHUNK)
            runtime.push_user_audio(pcm[i : i + step], IN_RATE, 2)

    feeding = asyncio.create_task(feed())
    deadline = time.monotonic() + u.end + 4.0
    try:
        while time.monotonic() < deadline:
            await asyncio.sleep(0.01)
            if any(t > speech_end for t in trace.frames):
                break
    finally:
        feeding.cancel()
        await asyncio.gather(feeding, return_exceptions=True)
        await runtime.shutdown("end_conversation_endpoint_hit")
    commits = [
        t for t, x in trace.events if isinstance(x, p.Utterance) and x.properties.role == "user"
    ]
    cut = pause_end is not None and (len(commits) > 1 or (commits and commits[0] < pause_end))
    first = next((t for t in trace.frames if t > speech_end), None)
    timing = None
    if first is not None and commits:
        timing = (first - speech_end, commits[-1] - speech_end, first - commits[-1])
    return timing, bool(cut), runtime.turn_stats, timeline(trace, asr, speech_end)


async def turn_taking_section(
    models: Any,
    levels: Sequence[str],
    new_runtime: Callable[..., Any],
    which: str = "small",
    voices: Sequence[str] = ("piper", "espeak"),
    setups_wanted: Sequence[str] = ("silence", "silence+pre", "model"),
) -> None:
    """`which`: the small set, the `larger` one, or its `held-out` half only; `voices`
    and `setups_wanted` (`silence`, `silence+pre`, `model`) pick a part of the run."""
    from openreplica.plugins.turn_smart import SmartTurnModel

    if not MODEL_PATH.is_file():
        print(f"\nturn-taking: no model at {MODEL_PATH}: run scripts/setup --dev")
        return
    model = TimedTurnModel(SmartTurnModel(MODEL_PATH))
    utterances = await speech_set(
        {v: tts for v, tts in (("piper", models.piper), ("espeak", EspeakTTS())) if v in voices},
        larger=which != "small",
        held_out_only=which == "held-out",
    )
    complete = sum(1 for u in utterances if not u.hesitant)
    print(
        f"\nturn-taking on the synthetic set: {complete} complete and "
        f"{len(utterances) - complete} hesitant utterances (Piper and espeak-ng; {which} set), "
        "real time"
    )
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    every_setup = {
        "silence": ("fixed silence (baseline)", False, None),
        "silence+pre": ("fixed silence + preemptive", True, None),
        "model": ("Smart Turn + preemptive", True, model),
    }
    setups = tuple(every_setup[k] for k in setups_wanted)
    head = f"{'pause':8}{'set-up':28}{'first audio p50/p95':>22}{'commit':>14}{'after':>14}"
    head += f"{'cut off':>28}"
    print(head + f"{'model/silence':>15}{'wasted':>10}   first audio p50 per voice")
    for level in levels:
        results = [SetResult() for _ in setups]
        # Interleaved, utterance by utterance: the machine's load hits every set-up alike.
        for u in utterances:
            for (label, preempt, turn), r in zip(setups, results, strict=True):
                latency, cut, stats, steps = await one(models, u, level, preempt, turn, new_runtime)
                r.wasted += stats.preemptive_wasted
                r.started += stats.preemptive_started
                r.decided_by_model += stats.decided_by_model
                r.decided_by_silence += stats.decided_by_silence
                if u.hesitant:
                    r.hesitant += 1
                    r.cut_off += cut
                    r.held_hesitant += u.held_out
                    r.held_cut_off += cut and u.held_out
                    if cut and os.environ.get("BENCH_TURN_VERBOSE"):
                        print(f"  cut off: {u.voice:7}{u.text[:40]:42}({label})", file=sys.stderr)
                elif latency is not None:
                    if os.environ.get("BENCH_TURN_VERBOSE"):
                        print(
                            f"  {u.voice:7}{u.text[:40]:42}"
                            + " ".join(f"{1000 * v:.0f}" for v in steps.values()),
                            file=sys.stderr,
                        )
                    r.used += stats.preemptive_used
                    for step, at in steps.items():
                        r.timeline.setdefault(step, []).append(at)
                    r.first_audio.append(latency[0])
                    r.commit.append(latency[1])
                    r.after_commit.append(latency[2])
                    r.by_voice.setdefault(u.voice, []).append(latency[0])
        for (label, _, _), r in zip(setups, results, strict=True):
            lat, commit, after = (
                f"{1000 * percentile(v, 50):.0f} / {1000 * percentile(v, 95):.0f}" if v else "-"
                for v in (r.first_audio, r.commit, r.after_commit)
            )
            cut = f"{r.cut_off}/{r.hesitant} {100 * r.cut_off / max(1, r.hesitant):.0f}%"
            if which == "larger":
                cut += f" (held-out {r.held_cut_off}/{r.held_hesitant})"
            who = f"{r.decided_by_model}/{r.decided_by_silence}"
            print(
                f"{level:8}{label:28}{lat:>22}{commit:>14}{after:>14}{cut:>28}{who:>15}"
                f"{f'{r.wasted}/{r.started}':>10}   "
                + ", ".join(f"{v} {1000 * percentile(x, 50):.0f}" for v, x in r.by_voice.items())
            )
        print_timeline(setups, results)
    cpu = model.cpu
    if cpu:
        print(
            f"model CPU per run: p50 {1000 * percentile(cpu, 50):.1f} ms, "
            f"p95 {1000 * percentile(cpu, 95):.1f} ms over {len(cpu)} runs (it is not run when the "
            "words decide: bench/turn_timeline.py gives the CPU per decision)"
        )
    if model.stopped:
        print(
            f"  of which {len(model.stopped)} stopped when their decision became moot (the "
            f"speech went on), after p50 {1000 * percentile(model.stopped, 50):.1f} ms of CPU"
        )
    cue_cpu = prosody_cpu(utterances)
    print(
        f"prosodic cues CPU per decision: p50 {1000 * percentile(cue_cpu, 50):.2f} ms, "
        f"p95 {1000 * percentile(cue_cpu, 95):.2f} ms, p99 {1000 * percentile(cue_cpu, 99):.2f} ms "
        f"over {len(cue_cpu)} pauses (thread CPU, after the real-time runs)"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


def print_timeline(setups: Sequence[tuple[str, bool, Any]], results: Sequence[SetResult]) -> None:
    """Where each ms goes: per step, wall-clock ms after the last audible sample, p50 / p95
    over the complete utterances (n: how many had that step)."""
    print(
        "\nper-step timeline, complete utterances, wall clock (this machine's load included), "
        "ms after the last audible sample, p50 / p95 (n)"
    )
    print(f"{'step':30}" + "".join(f"{label:>30}" for label, _, _ in setups))
    for step in STEPS:
        cells = []
        for r in results:
            v = r.timeline.get(step, [])
            cells.append(
                f"{1000 * percentile(v, 50):.0f} / {1000 * percentile(v, 95):.0f} ({len(v)})"
                if v
                else "-"
            )
        print(f"{step:30}" + "".join(f"{c:>30}" for c in cells))
    used = "".join(f"{f'{r.used}/{len(r.first_audio)}':>30}" for r in results)
    print(f"{'preemptive reply used':30}{used}")


def prosody_cpu(utterances: Sequence[Utterance]) -> list[float]:
    """Thread CPU of `prosody_features` on the audio the scorer hands it at each pause of
    the set (the turn up to 100 ms into the pause), five times each."""
    from openreplica.plugins.turn_prosody import prosody_features

    out: list[float] = []
    for u in utterances:
        for at in (u.end, *(u.pause[:1] if u.pause else ())):
            pcm = u.pcm[: 2 * round((at + 0.1) * RATE)]
            for _ in range(5):
                started = time.thread_time()
                prosody_features(pcm)
                out.append(time.thread_time() - started)
    return out
