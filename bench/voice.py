"""Voice benchmark: a spoken question, in real time, through the embedded models.

Piper speaks "What is the weather like in London today?"; the audio is fed to a
conversation on the system clock as a WebRTC microphone would deliver it (48 kHz
stereo, 20 ms chunks, each pushed once it has been "recorded"). Silero finds the
speech, PocketSphinx transcribes it while it is spoken, the LLM answers (the tiny
test-built GGUF through llama-cpp-python when the `llama` extra and `gguf` are
installed, else a scripted zero-time LLM: the output says which) and Piper speaks.

Per pause sensitivity, over N runs (p50 / p95, milliseconds):
  vad_end     end of the user's speech -> the VAD's end-of-speech edge
  asr_final   end of speech -> the final transcript (asr_finish: how long the finish()
              call, the final pass, took)
  turn        end of speech -> the turn is committed (the pause is most of it)
  llm_ttft    turn committed -> the LLM's first token
  tts_first   the first sentence sent to TTS -> its first audio
  after_turn  turn committed -> first replica audio frame played
  total       end of the user's speech -> first replica audio frame played
Then barge-in per interrupt sensitivity: user speech onset -> replica audio stopped.

Then turn-taking on a synthetic speech set (tests/support/speech_set.py: complete
questions and statements, and sentences with a 400-900 ms pause in the middle, in Piper's
and espeak-ng's voices), each fed in real time at the given levels through three set-ups:
the fixed-silence baseline, the fixed silence with preemptive replies, and the end-of-turn
model (Smart Turn v3, `openreplica models pull turn`) with preemptive replies:
  first audio   complete utterances: end of speech -> first replica audio (p50 / p95)
  commit        complete utterances: end of speech -> turn committed; after: commit ->
                first audio (what preemption saves)
  cut off       hesitant utterances: the replica took the turn during the pause
  model cpu     CPU ms per model run (p50 / p95), in the worker thread
  wasted        preemptive replies cancelled because the user went on

"End of speech" is the instant the last audible sample is spoken, so `total` includes
the 20 ms packetisation of the input.

Run: .venv/bin/python bench/voice.py [--runs 20] [--levels medium,high] [--set-levels medium]
     [--set small|larger|held-out] [--set-voices piper,espeak]
     [--set-setups silence,silence+pre,model]

The turn-taking section ends with a per-step wall-clock timeline of the complete
utterances (ms after the last audible sample: the first silent frame, the preemptive
reply's LLM call, the recogniser's final pass, the confirmed end, the decision, the
commit, the used reply's LLM and TTS steps, the first replica audio), per set-up.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from percentiles import percentile
from turn_set import turn_taking_section

from openreplica import protocol as p
from openreplica.engine import INTERRUPT_MIN_SPEECH, EngineSettings, TurnTaking
from openreplica.engine import io as e
from openreplica.plugins.asr_pocketsphinx import PocketSphinxASR
from openreplica.plugins.audio import pcm16_to_float, resample
from openreplica.plugins.base import (
    LLM,
    TTS,
    ASRModel,
    ASRStream,
    AudioChunk,
    ChatMessage,
    LLMDelta,
    Transcript,
)
from openreplica.plugins.scripted import ScriptedLLM
from openreplica.plugins.tts_piper import PiperTTS
from openreplica.plugins.vad_silero import SileroVAD
from openreplica.runtime import ConversationRuntime, RuntimePlugins, SystemClock
from openreplica.runtime.observer import NullObserver

QUESTION = "What is the weather like in London today?"
STORY = (
    "Once upon a time, in a quiet village by the sea, there lived an old fisherman "
    "who told the most wonderful stories to anyone who would listen."
)
IN_RATE, CHUNK = 48000, 0.02
LEVELS = ("superlow", "verylow", "low", "medium", "high")


# ------------------------------------------------------------------ instrumentation


class TimedASR:
    """Wraps an ASR model to time each `finish()` call."""

    def __init__(self, inner: ASRModel, clock: SystemClock) -> None:
        self.inner, self.clock = inner, clock
        self.name, self.streams_partials = inner.name, inner.streams_partials
        self.finish_holds_loop = inner.finish_holds_loop
        self.finishes: list[tuple[float, float]] = []  # (started, ended)

    def create_stream(self) -> ASRStream:
        model, stream = self, self.inner.create_stream()

        class Stream:
            async def push(self, pcm16k: bytes) -> Transcript | None:
                return await stream.push(pcm16k)

            async def finish(self) -> Transcript:
                started = model.clock.now()
                try:
                    return await stream.finish()
                finally:
                    model.finishes.append((started, model.clock.now()))

            async def aclose(self) -> None:
                await stream.aclose()

        return Stream()


class TimedTTS:
    """Wraps a TTS to time its first audio per call."""

    def __init__(self, inner: TTS, clock: SystemClock) -> None:
        self.inner, self.clock = inner, clock
        self.name, self.sample_rate = inner.name, inner.sample_rate
        self.first_audio: list[tuple[float, float]] = []  # (called, first chunk)

    async def synthesize(self, text: str) -> AsyncIterator[AudioChunk]:
        called, first = self.clock.now(), True
        async for chunk in self.inner.synthesize(text):
            if first:
                self.first_audio.append((called, self.clock.now()))
                first = False
            yield chunk


@dataclass
class Trace:
    """Wall-clock times (SystemClock seconds) of what happened in one run."""

    feed_start: float = 0.0
    inputs: list[tuple[float, e.EngineInput]] = field(default_factory=list)
    events: list[tuple[float, p.Event]] = field(default_factory=list)
    frames: list[float] = field(default_factory=list)  # sink writes
    #: (step, generation, time) from the runtime's observer: llm_started, llm_first_token,
    #: tts_started, tts_first_audio (the per-step timeline, bench/turn_set.py)
    marks: list[tuple[str, int, float]] = field(default_factory=list)

    def first_input(self, kind: type, after: float = 0.0) -> float | None:
        return next((t for t, x in self.inputs if isinstance(x, kind) and t >= after), None)

    def first_event(self, kind: type, **props: Any) -> tuple[float, p.Event] | None:
        for t, x in self.events:
            if isinstance(x, kind) and all(
                getattr(x.properties, k) == v  # type: ignore[attr-defined]
                for k, v in props.items()
            ):
                return t, x
        return None


class Marks(NullObserver):
    """The runtime's observer, noting when each generation's LLM and TTS steps happen."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace

    def llm_started(self, gen: int, now: float) -> None:
        self.trace.marks.append(("llm_started", gen, now))

    def llm_first_token(self, gen: int, now: float) -> None:
        self.trace.marks.append(("llm_first_token", gen, now))

    def llm_ended(self, gen: int, now: float, error: str | None) -> None:
        self.trace.marks.append(("llm_ended", gen, now))

    def tts_started(self, gen: int, segment: int, now: float) -> None:
        if segment == 0:
            self.trace.marks.append(("tts_started", gen, now))

    def tts_first_audio(self, gen: int, segment: int, now: float) -> None:
        if segment == 0:
            self.trace.marks.append(("tts_first_audio", gen, now))


class Sink:
    def __init__(self, clock: SystemClock, trace: Trace) -> None:
        self.clock, self.trace = clock, trace

    def write(self, pcm: bytes, sample_rate: int) -> None:
        self.trace.frames.append(self.clock.now())


def spy(runtime: ConversationRuntime, trace: Trace, clock: SystemClock) -> None:
    feed = runtime.feed

    def recording_feed(item: e.EngineInput) -> None:
        trace.inputs.append((clock.now(), item))
        feed(item)

    runtime.feed = recording_feed  # type: ignore[method-assign]
    runtime.subscribe(lambda event, _: trace.events.append((clock.now(), event)))


# ------------------------------------------------------------------ material


@dataclass(frozen=True)
class Spoken:
    pcm48: bytes  # 48 kHz interleaved stereo, as WebRTC delivers it
    start: float  # media time of the first / last audible sample
    end: float

    def chunks(self) -> list[bytes]:
        step = round(IN_RATE * CHUNK) * 4
        return [self.pcm48[i : i + step] for i in range(0, len(self.pcm48), step)]


async def speak(piper: PiperTTS, text: str, lead: float, tail: float) -> Spoken:
    pcm = b"".join([c.pcm async for c in piper.synthesize(text)])
    pcm48 = resample(pcm, piper.sample_rate, IN_RATE)
    level = np.abs(pcm16_to_float(pcm48))
    audible = np.flatnonzero(level > 0.02)
    samples = np.frombuffer(pcm48, dtype="<i2").astype(np.float64)
    samples = np.concatenate(
        [np.zeros(round(lead * IN_RATE)), samples, np.zeros(round(tail * IN_RATE))]
    )
    samples += np.random.default_rng(1).normal(0.0, 0.003 * 32768, samples.size)
    mono = np.clip(samples, -32768, 32767).astype("<i2")
    stereo = np.repeat(mono, 2).astype("<i2").tobytes()
    return Spoken(stereo, lead + audible[0] / IN_RATE, lead + audible[-1] / IN_RATE)


def tiny_llm(workdir: Path) -> tuple[LLM, str]:
    """The test-built GGUF through llama-cpp-python, or a scripted zero-time LLM."""
    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("gguf") is None:
        reply = ScriptedLLM.replies(*(["It is sunny in London today."] * 10_000))
        return reply, "scripted zero-time LLM (llama-cpp-python or gguf not installed)"
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
    from tiny_gguf import build_tiny_gguf

    from openreplica.plugins.llm_llama import LlamaCppLLM

    path = workdir / "tiny.gguf"
    build_tiny_gguf(path)
    llm = LlamaCppLLM(
        path, n_ctx=256, n_threads=1, generation={"temperature": 0.0, "max_tokens": 24}
    )
    llm.load()
    return llm, "tiny test-built GGUF via llama-cpp-python (says 'Hello from a tiny model.')"


class WarmLLM:
    """Forwards to the LLM (kept so every run shares one loaded model)."""

    def __init__(self, inner: LLM) -> None:
        self.inner, self.name = inner, inner.name

    def stream(
        self, messages: Sequence[ChatMessage], tools: Sequence[Mapping[str, Any]] = ()
    ) -> AsyncIterator[LLMDelta]:
        return self.inner.stream(messages, tools)


# ------------------------------------------------------------------ runs


@dataclass
class Models:
    piper: PiperTTS
    silero: SileroVAD
    sphinx: PocketSphinxASR
    llm: LLM


async def feed_in_real_time(
    runtime: ConversationRuntime, spoken: Spoken, clock: SystemClock, start: float
) -> None:
    for k, chunk in enumerate(spoken.chunks()):
        await clock.sleep_until(start + (k + 1) * CHUNK)
        runtime.push_user_audio(chunk, IN_RATE, 2)


def new_runtime(
    models: Models, clock: SystemClock, settings: EngineSettings, turn: Any = None
) -> tuple[ConversationRuntime, Trace, TimedASR, TimedTTS]:
    asr = TimedASR(models.sphinx, clock)
    tts = TimedTTS(models.piper, clock)
    plugins = RuntimePlugins(tts=tts, llm=WarmLLM(models.llm), asr=asr, vad=models.silero)
    plugins.turn = turn
    trace = Trace()
    runtime = ConversationRuntime("bench", settings, plugins, clock, observer=Marks(trace))
    spy(runtime, trace, clock)
    runtime.add_speech_listener(Sink(clock, trace))
    return runtime, trace, asr, tts


async def one_turn(models: Models, spoken: Spoken, level: str) -> tuple[dict[str, float], str]:
    clock = SystemClock()
    settings = EngineSettings(
        turn_taking=TurnTaking(pause_sensitivity=level),  # type: ignore[arg-type]
        preemptive_replies=False,  # today's baseline; the turn-taking section compares
    )
    runtime, trace, asr, tts = new_runtime(models, clock, settings)
    await runtime.start()
    start = trace.feed_start = clock.now() + 0.05
    feeding = asyncio.create_task(feed_in_real_time(runtime, spoken, clock, start))
    speech_end = start + spoken.end
    deadline = time.monotonic() + spoken.end + 10.0
    try:
        while time.monotonic() < deadline:
            await asyncio.sleep(0.01)
            if trace.frames:
                break
        else:
            raise RuntimeError(
                f"no reply audio at {level}: {[type(x).__name__ for _, x in trace.events]}"
            )
    finally:
        feeding.cancel()
        await asyncio.gather(feeding, return_exceptions=True)
        await runtime.shutdown("end_conversation_endpoint_hit")
    user = next(
        (t, x)
        for t, x in trace.events
        if isinstance(x, p.Utterance) and x.properties.role == "user"
    )
    commit = user[0]
    vad_end = trace.first_input(e.UserSpeechEnded)
    final = next(t for t, x in trace.inputs if isinstance(x, e.UserTranscript) and x.final)
    token = trace.first_input(e.LLMToken, after=commit)
    assert vad_end is not None and token is not None
    finish_started, finish_ended = asr.finishes[0]
    called, first_chunk = tts.first_audio[0]
    first_audio = trace.frames[0]
    return {
        "vad_end": vad_end - speech_end,
        "asr_final": final - speech_end,
        "asr_finish": finish_ended - finish_started,
        "turn": commit - speech_end,
        "llm_ttft": token - commit,
        "tts_first": first_chunk - called,
        "after_turn": first_audio - commit,
        "total": first_audio - speech_end,
    }, str(user[1].properties.speech)


async def one_barge_in(models: Models, spoken: Spoken, level: str) -> dict[str, float]:
    clock = SystemClock()
    settings = EngineSettings(turn_taking=TurnTaking(interrupt_sensitivity=level))  # type: ignore[arg-type]
    runtime, trace, _, _ = new_runtime(models, clock, settings)
    await runtime.start()
    runtime.submit(p.Echo(properties=p.EchoProps(text=STORY)))
    for _ in range(1000):  # until the replica is audibly speaking
        await asyncio.sleep(0.01)
        if len(trace.frames) >= 10:
            break
    start = trace.feed_start = clock.now()
    feeding = asyncio.create_task(feed_in_real_time(runtime, spoken, clock, start))
    onset = start + spoken.start
    stopped = None
    deadline = time.monotonic() + spoken.end + 3.0
    try:
        while time.monotonic() < deadline and stopped is None:
            await asyncio.sleep(0.01)
            stopped = trace.first_event(p.ReplicaStoppedSpeaking)
    finally:
        feeding.cancel()
        await asyncio.gather(feeding, return_exceptions=True)
        await runtime.shutdown("end_conversation_endpoint_hit")
    if stopped is None or not stopped[1].properties.interrupted:  # type: ignore[attr-defined]
        raise RuntimeError(f"the replica was not interrupted at {level}")
    last_frame = max(t for t in trace.frames if t <= stopped[0] + 0.001)
    return {
        "barge_in": stopped[0] - onset,
        "frames_after": float(sum(1 for t in trace.frames if t > stopped[0])),
        "last_frame": last_frame - onset,
    }


# ------------------------------------------------------------------ report


def cell(values: Sequence[float]) -> str:
    return f"{1000 * percentile(values, 50):5.0f} / {1000 * percentile(values, 95):5.0f}"


async def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    print("loading models…", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        # one onnxruntime thread, as the server's default (`TTSOptions.threads`)
        piper = PiperTTS.default(threads=1, noise_scale=0.0, noise_w_scale=0.0)
        piper.load()
        llm, llm_label = tiny_llm(Path(tmp))
        # as a server does at start: decoders are pooled (in `--asr-workers` processes)
        sphinx = PocketSphinxASR(workers=args.asr_workers, second_pass=not args.one_pass)
        await sphinx.awarm(1)
        models = Models(piper, SileroVAD(), sphinx, llm)
        spoken = await speak(piper, QUESTION, lead=0.3, tail=2.5)
        print(f"question: {QUESTION!r}, {spoken.end - spoken.start:.2f} s of speech")
        print(f"LLM: {llm_label}")
        where = f"{args.asr_workers} worker process(es)" if args.asr_workers else "in-process"
        print(
            f"ASR: pocketsphinx (en-us, full language model, {where}"
            f"{', one search pass' if args.one_pass else ''}); VAD: silero;"
            " TTS: piper joe-medium"
        )
        print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        await one_turn(models, spoken, "high")  # warm-up, not counted

        columns = ["vad_end", "asr_final", "asr_finish", "turn", "llm_ttft", "tts_first"]
        columns += ["after_turn", "total"]
        print(f"\nturns: {args.runs} runs per level, p50 / p95 in ms")
        print(f"{'pause':9}" + "".join(f"{c:>14}" for c in columns))
        texts: set[str] = set()
        for level in args.levels:
            results = [await one_turn(models, spoken, level) for _ in range(args.runs)]
            runs = [r for r, _ in results]
            texts |= {text for _, text in results}
            print(f"{level:9}" + "".join(f"{cell([r[c] for r in runs]):>14}" for c in columns))
        print(f"transcripts heard: {sorted(texts)}")
        print(f"load average after the turns: {os.getloadavg()[0]:.2f}")

        print(f"\nbarge-in: user speech onset -> replica audio stopped, {args.runs} runs, ms")
        heads = f"{'minimum':>10}{'p50 / p95':>16}{'beyond min p50/p95':>22}{'frames after':>14}"
        print(f"{'interrupt':9}{heads}")
        for level in args.levels:
            runs = [await one_barge_in(models, spoken, level) for _ in range(args.runs)]
            minimum = INTERRUPT_MIN_SPEECH[level]
            lat = [r["barge_in"] for r in runs]
            beyond = [x - minimum for x in lat]
            after = max(r["frames_after"] for r in runs)
            print(
                f"{level:9}{1000 * minimum:>10.0f}{cell(lat):>16}{cell(beyond):>22}{after:>14.0f}"
            )
        if args.set_levels:
            await turn_taking_section(
                models, args.set_levels, new_runtime, args.set, args.set_voices, args.set_setups
            )
        await sphinx.aclose()
    return 0


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--levels",
        type=lambda s: [x.strip() for x in s.split(",") if x.strip()],
        default=list(LEVELS),
        help="comma-separated sensitivity levels (default: all)",
    )
    parser.add_argument(
        "--set-levels",
        type=lambda s: [x.strip() for x in s.split(",") if x.strip()],
        default=["medium"],
        help="levels for the synthetic-set turn-taking comparison ('' to skip)",
    )
    parser.add_argument(
        "--set",
        choices=("small", "larger", "held-out"),
        default="small",
        help="the synthetic set: 6+6 sentences per voice, 40+40, or the held-out 20+20",
    )
    parser.add_argument(
        "--set-voices",
        type=lambda s: [x.strip() for x in s.split(",") if x.strip()],
        default=["piper", "espeak"],
        help="the set's voices (default: piper,espeak)",
    )
    parser.add_argument(
        "--set-setups",
        type=lambda s: [x.strip() for x in s.split(",") if x.strip()],
        default=["silence", "silence+pre", "model"],
        help="the set-ups compared (default: silence,silence+pre,model)",
    )
    parser.add_argument(
        "--asr-workers",
        type=int,
        default=1,
        help="PocketSphinx worker processes (default 1, as the server; 0: in-process)",
    )
    parser.add_argument(
        "--one-pass",
        action="store_true",
        help="PocketSphinx without its second search pass (`second_pass=False`)",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
