"""Where the end of a turn waits, on a virtual clock (no CPU contention), and what each
step costs in CPU time (which the machine's load does not distort).

The synthetic speech set's complete utterances (tests/support/speech_set.py, Piper and
espeak-ng) go through the real Silero, PocketSphinx and Smart Turn v3 at `medium`, as in
tests/integration/voice/test_end_of_turn_real.py; recognition and the model take no
virtual time, so the timeline shows what the turn-taking rules wait for. Per utterance,
milliseconds after the last audible sample (p50 / p95):

  vad end       the start of the VAD's first silent frame
  pause from    where the pause is counted from (the sound's end, `audible_end.py`)
  confirmed     the detector confirms the end (UserSpeechEnded fed)
  reply start   the preemptive reply's LLM call (the recogniser's guess)
  final         the final transcript fed
  scored        the end-of-turn decision fed (TurnScored)
  commit        the user's turn committed

Then the CPU time of the work in between, which on a real clock adds to it: the
recogniser's final pass (thread CPU of the event loop's thread), and the end-of-turn
model per decision: p50 / p95 / p99 over every decision and over those that ran the model
(a decision whose words already say "not finished" does not run it), and its mean.

The hesitant utterances run too: their decisions count toward the CPU figures.

Last, how many hesitant utterances were cut off (a turn committed during their
mid-sentence pause), and the word error rate of the committed transcripts of the complete utterances
against their text (words lower-cased, punctuation dropped), per voice and overall:
what an earlier final pass (`--early-final-after`, seconds of silent frames) costs in
words. PocketSphinx carries its cepstral mean from one utterance to the next, so compare
settings in separate runs over the same set, in the same order.

Run: .venv/bin/python bench/turn_timeline.py [--set small|larger|held-out]
     [--early-final-after 0.064] [--one-pass]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
from percentiles import percentile
from speech_set import Utterance, speech_set
from turn_set import MODEL_PATH, TimedTurnModel
from voice_harness import Listening, listening

from openreplica import protocol as p
from openreplica.engine import io as e
from openreplica.plugins.asr_pocketsphinx import PocketSphinxASR
from openreplica.plugins.base import ASRStream, ChatMessage, LLMDelta, Transcript
from openreplica.plugins.scripted import ScriptedLLM, ScriptedTTS
from openreplica.plugins.tts_espeak import EspeakTTS
from openreplica.plugins.tts_piper import PiperTTS
from openreplica.plugins.turn_smart import SmartTurnModel
from openreplica.plugins.vad_silero import SileroVAD
from openreplica.runtime.voice import VoiceSettings

RATE = 16000


class TimedASR:
    """PocketSphinx, with the thread CPU of each final pass."""

    def __init__(self, inner: PocketSphinxASR) -> None:
        self.inner, self.name, self.streams_partials = inner, inner.name, inner.streams_partials
        self.finish_holds_loop = inner.finish_holds_loop
        self.cpu: list[float] = []

    def create_stream(self) -> ASRStream:
        stream, cpu = self.inner.create_stream(), self.cpu

        class Stream:
            async def prepare(self) -> None:
                await stream.prepare()

            async def push(self, pcm16k: bytes) -> Transcript | None:
                return await stream.push(pcm16k)

            async def finish(self) -> Transcript:
                started = time.thread_time()
                try:
                    return await stream.finish()
                finally:
                    cpu.append(time.thread_time() - started)

            async def aclose(self) -> None:
                await stream.aclose()

        return Stream()


class TimedLLM:
    """A scripted LLM that notes the (virtual) time of each call."""

    def __init__(self, h: list[Listening]) -> None:
        self.inner = ScriptedLLM.replies(*(["Sure, happy to help."] * 10))
        self.name, self.h, self.called = "scripted", h, list[float]()
        self.words: list[str] = []

    def stream(
        self, messages: Sequence[ChatMessage], tools: Sequence[Any] = ()
    ) -> AsyncIterator[LLMDelta]:
        self.called.append(self.h[0].clock.now())
        self.words.append(messages[-1].content or "")
        return self.inner.stream(messages, tools)


@dataclass
class Steps:
    rows: dict[str, list[float]] = field(default_factory=dict)
    #: the model's CPU per decision (TurnScored fed): the runs since the previous one
    #: (a run for a pause the speech went on through counts toward the next decision)
    decisions: list[float] = field(default_factory=list)
    runs_seen: int = 0
    hesitant: int = 0
    cut: int = 0  # hesitant utterances cut off during their pause
    #: per voice: word errors and reference words of the complete utterances' commits
    errors: dict[str, tuple[int, int]] = field(default_factory=dict)

    def add_words(self, voice: str, heard: str, said: str) -> None:
        ref = words(said)
        errors, total = self.errors.get(voice, (0, 0))
        self.errors[voice] = (errors + edit_distance(words(heard), ref), total + len(ref))

    def add(self, name: str, value: float | None) -> None:
        if value is not None:
            self.rows.setdefault(name, []).append(value)


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


def edit_distance(heard: Sequence[str], said: Sequence[str]) -> int:
    """Substitutions, insertions and deletions from `said` to `heard` (Levenshtein)."""
    row = list(range(len(said) + 1))
    for i, word in enumerate(heard, 1):
        prev, row[0] = row[0], i
        for j, ref in enumerate(said, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (word != ref))
    return row[-1]


async def one(
    u: Utterance,
    model: TimedTurnModel,
    vad: SileroVAD,
    asr: TimedASR,
    steps: Steps,
    verbose: bool = False,
    voice: VoiceSettings | None = None,
) -> None:
    box: list[Listening] = []
    llm = TimedLLM(box)
    h = await listening(
        tts=ScriptedTTS(sample_rate=RATE), llm=llm, vad=vad, asr=asr, turn=model, voice=voice
    )
    box.append(h)
    seen: list[tuple[float, e.EngineInput]] = []
    feed = h.runtime.feed

    def recording(item: e.EngineInput) -> None:
        seen.append((h.clock.now(), item))
        if isinstance(item, e.TurnScored):
            steps.decisions.append(sum(model.cpu[steps.runs_seen :]))
            steps.runs_seen = len(model.cpu)
        feed(item)

    h.runtime.feed = recording  # type: ignore[method-assign]
    await h.push(u.pcm)
    await h.clock.advance(2.0)
    await h.runtime.shutdown("end_conversation_endpoint_hit")
    if u.pause is not None:  # (its decisions count for the CPU, the timeline is the
        # complete ones'): was it cut off, a turn committed during its pause?
        commits = [t for t, _ in h.user_utterances()]
        steps.hesitant += 1
        steps.cut += len(commits) > 1 or any(t < h.t0 + u.pause[1] for t in commits)
        return
    last = h.t0 + u.end
    ends = [(t, x) for t, x in seen if isinstance(x, e.UserSpeechEnded)]
    if not ends:
        return
    t_end, end = ends[-1]
    steps.add("vad end", h.t0 + end.media_time - last)
    steps.add("pause from", t_end - end.detected_after - last)
    steps.add("confirmed", t_end - last)
    steps.add("reply start", next((t - last for t in llm.called if t >= t_end - 0.2), None))
    calls = [t for t in llm.called if t >= t_end - 0.2]
    steps.add("last reply start", calls[-1] - last if calls else None)
    steps.add("reply calls", float(len(calls)) / 1000)
    finals = [t for t, x in seen if isinstance(x, e.UserTranscript) and x.final and t >= t_end]
    steps.add("final", finals[0] - last if finals else None)
    scored = [t for t, x in seen if isinstance(x, e.TurnScored) and t >= t_end]
    steps.add("scored", scored[0] - last if scored else None)
    commits = [t for t, x in h.of(p.Utterance) if x.properties.role == "user"]
    steps.add("commit", commits[-1] - last if commits else None)
    steps.add_words(u.voice, " ".join(t for _, t in h.user_utterances()), u.text)
    if verbose:
        decided = [x.properties for _, x in h.of(p.Utterance) if x.properties.role == "user"]
        by = decided[-1].turn_decided_by if decided else "-"
        print(
            f"  {u.voice:7}{u.text[:44]:46}"
            + " ".join(f"{k} {1000 * v[-1]:.0f}" for k, v in steps.rows.items() if k != "vad end")
            + f" ({by})"
        )
        if len(calls) > 1:
            print(f"    replies prepared on: {llm.words[-len(calls) :]}")


def row(name: str, values: list[float]) -> str:
    if not values:
        return f"{name:24}{'-':>12}"
    ms = [1000 * v for v in values]
    p50, p95, p99 = (percentile(ms, q) for q in (50, 95, 99))
    return f"{name:24}{p50:8.0f} / {p95:4.0f}{p99:8.0f}{len(ms):6}"


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=("small", "larger", "held-out"), default="small")
    parser.add_argument("--verbose", action="store_true", help="a line per utterance")
    parser.add_argument(
        "--early-final-after",
        type=float,
        default=VoiceSettings().early_final_after,
        help="seconds of silent frames before the final ASR pass (default: %(default)s)",
    )
    parser.add_argument(
        "--one-pass",
        action="store_true",
        help="PocketSphinx without its second search pass (`second_pass=False`)",
    )
    args = parser.parse_args(argv)
    voice = VoiceSettings(early_final_after=args.early_final_after)
    piper = PiperTTS.default(threads=1, noise_scale=0.0, noise_w_scale=0.0)
    piper.load()
    utterances = await speech_set(
        {"piper": piper, "espeak": EspeakTTS()},
        larger=args.set != "small",
        held_out_only=args.set == "held-out",
    )
    chosen = utterances
    model = TimedTurnModel(SmartTurnModel(MODEL_PATH))
    vad, asr = SileroVAD(), TimedASR(PocketSphinxASR(second_pass=not args.one_pass))
    asr.inner.warm(1)
    steps = Steps()
    for u in chosen:
        await one(u, model, vad, asr, steps, args.verbose, voice)
    complete = sum(not u.hesitant for u in chosen)
    print(
        f"{complete} complete utterances and {len(chosen) - complete} hesitant ones "
        f"({args.set} set), virtual clock, `medium`, early final after "
        f"{1000 * args.early_final_after:.0f} ms"
    )
    print(f"{'ms after the last sample':24}{'p50 / p95':>12}{'p99':>8}{'n':>6}")
    for name, values in steps.rows.items():
        print(row(name, values))
    early = [v for v in steps.rows.get("pause from", []) if v < -0.02]
    print(
        f"pause counted from more than 20 ms before the last audible sample: {len(early)} of "
        f"{len(steps.rows.get('pause from', []))}"
        + (f" (earliest {1000 * min(early):.0f} ms)" if early else "")
    )
    print("CPU, ms:")
    print(row("final pass", asr.cpu))
    every = steps.decisions
    ran = [c for c in every if c > 0]
    print(row("model, every decision", every))
    print(row("model, when it ran", ran))
    if every:
        print(
            f"model: ran in {len(ran)} of {len(every)} decisions, mean per decision "
            f"{1000 * sum(every) / len(every):.1f} ms; runs in all {len(model.cpu)}"
        )
    wer = {v: f"{100 * err / max(1, n):.1f} % of {n}" for v, (err, n) in steps.errors.items()}
    errors = sum(err for err, _ in steps.errors.values())
    total = sum(n for _, n in steps.errors.values())
    print(
        f"word error rate, complete utterances: {100 * errors / max(1, total):.1f} % of "
        f"{total} words ({', '.join(f'{v} {w}' for v, w in wer.items())})"
    )
    print(f"hesitant utterances cut off during their pause: {steps.cut} of {steps.hesitant}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
