"""Does a faster Smart Turn (features or graph) give the same decisions, and at what CPU?

The larger synthetic speech set (tests/support/speech_set.py, Piper and espeak-ng, tuning
and held-out halves) runs through the real VAD, recogniser and Smart Turn on the virtual
clock (the cue model off and the words said to allow an end, so that nothing commits
before the cap and the model is asked at every pause). Recorded: every clip of turn audio
the model was asked about, and at each pause that ends a hesitant utterance's first words
or an utterance, the decision's inputs (the final words, P(end of sentence), the
prosody). Then, offline, against the reference (the features as first written,
`reference_features.py`, float64 over all 800 frames; the shipped graph):

- the new features on the shipped graph; the first features on the rewritten graph;
  both (what `SmartTurnModel` runs now); and a noise floor: the reference on the same
  audio with +-1 of 32768 of dither;
- for each, |delta p| of the model's probability over the decisions' clips (max, p95,
  p50), and each decision with either probability, per half: the cue model's verdict
  as the engine acts on it (a dangling last word waits anyway; the rule before the cue
  model where the prosody is missing), and the rule before the cue model (Smart Turn
  lowered by the words), which leans on Smart Turn far more;
- thread CPU per run (features + model; features alone), p50 / p95 / p99 over the
  decisions' clips (1-4 s of speech), the first and the new way interleaved run by run,
  each clip --repeat times.

Thread CPU (time.thread_time), which other work on a loaded machine distorts far less
than the wall clock (though not entirely: SMT siblings and caches are shared; say the load).

Run: PYTHONPATH=src .venv/bin/python bench/turn_model_check.py [--cache PKL] [--repeat N]
(the recording takes a few minutes; --cache keeps it for the next run)
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import pickle
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "bench"))

from percentiles import percentile  # noqa: E402
from reference_features import reference_log_mel  # noqa: E402
from speech_set import RATE, speech_set  # noqa: E402
from turn_recording import FRAME, hear, label  # noqa: E402

from openreplica.engine.trailing_words import ends_mid_sentence  # noqa: E402
from openreplica.plugins.asr_pocketsphinx import PocketSphinxASR  # noqa: E402
from openreplica.plugins.audio import pcm16_to_float  # noqa: E402
from openreplica.plugins.base import TTS, RunStop  # noqa: E402
from openreplica.plugins.tts_espeak import EspeakTTS  # noqa: E402
from openreplica.plugins.tts_piper import PiperTTS  # noqa: E402
from openreplica.plugins.turn_cues_weights import TURN_CUES  # noqa: E402
from openreplica.plugins.turn_features import log_mel  # noqa: E402
from openreplica.plugins.turn_prosody import ProsodyFeatures, prosody_features  # noqa: E402
from openreplica.plugins.turn_smart import SmartTurnModel  # noqa: E402
from openreplica.plugins.turn_text import last_word  # noqa: E402
from openreplica.plugins.vad_silero import SileroVAD  # noqa: E402
from openreplica.runtime.turn_scoring import TEXT_END_MIN, TurnScorer  # noqa: E402

MODEL = ROOT / ".cache" / "models" / "smart-turn-v3.2-cpu.onnx"
Features = npt.NDArray[np.float32]


class Heard:
    """The real model, recording each clip it is asked about and answering "not over"
    (with the cue model off, so no decision rule shapes the recording)."""

    name = "smart_turn"

    def __init__(self, inner: SmartTurnModel) -> None:
        self.inner = inner
        self.clips: list[bytes] = []

    def completion_probability(self, pcm16k: bytes, stop: RunStop | None = None) -> float:
        self.clips.append(pcm16k)
        return 0.0

    def sentence_end_probability(self, text: str) -> float | None:
        return 1.0  # the audio model runs unless the last word dangles


@dataclass
class Decision:
    held_out: bool
    over: bool  # the label: the turn is over here
    complete: bool  # a complete utterance (no mid-sentence pause)
    words: str
    sentence_end: float | None
    prosody: ProsodyFeatures | None
    clip: int  # index into the recorded clips
    #: P(a sentence ends after the last word alone); like the prosody, refreshed from the
    #: words and the clip at every run (`refresh`), so a recording outlives cue changes
    last_word_end: float | None = None


def refresh(decisions: Sequence[Decision], clips: Sequence[bytes], model: SmartTurnModel) -> None:
    """The cue model's inputs other than Smart Turn, as the scorer computes them now."""
    for d in decisions:
        d.sentence_end = model.sentence_end_probability(d.words)
        d.last_word_end = model.sentence_end_probability(last_word(d.words))
        d.prosody = prosody_features(clips[d.clip]) if d.clip >= 0 else None


async def record(model: SmartTurnModel) -> tuple[list[bytes], list[Decision]]:
    piper = PiperTTS.default(threads=1, noise_scale=0.0, noise_w_scale=0.0)
    piper.load()
    voices: dict[str, TTS] = {"piper": piper, "espeak": EspeakTTS()}
    silero, sphinx = SileroVAD(), PocketSphinxASR()
    clips: list[bytes] = []
    out: list[Decision] = []
    # no cue model: the scorer feeds min(audio, words) = 0, nothing commits before the cap
    kwdefaults = TurnScorer.__init__.__kwdefaults__
    assert kwdefaults is not None
    kwdefaults["cues"] = None
    finals: dict[float, str] = {}  # speech end -> the words the decision read
    deliver = TurnScorer._deliver

    async def reading(
        self: TurnScorer, speech_end: float, decision: Any, text: Any, audio: bytes
    ) -> None:
        finals[speech_end] = await text
        await deliver(self, speech_end, decision, text, audio)

    TurnScorer._deliver = reading  # type: ignore[method-assign]
    for u in await speech_set(voices, larger=True):
        rec = Heard(model)
        finals.clear()
        heard = await hear(u, rec, silero, sphinx)
        base = len(clips)
        clips.extend(rec.clips)
        for item in heard.scored:
            words = finals[item.speech_end]
            ends = model.sentence_end_probability(words)
            gaps = [heard.clip_gap(c, item.speech_end) for c in rec.clips]
            near = [min(range(len(gaps)), key=gaps.__getitem__)] if gaps else []
            if near and gaps[near[0]] > 2 * FRAME:
                near = []  # that clip was another decision's
            over = label(u, item.speech_end)
            if over is None:
                continue  # a short dip inside a sentence
            if not near:  # the last word dangles: the model was not run, the turn waits
                if not ends_mid_sentence(words):
                    raise RuntimeError(f"no clip for a decision: {u.text!r} {words!r} {gaps}")
                out.append(Decision(u.held_out, over, u.pause is None, words, ends, None, -1))
                continue
            prosody = prosody_features(rec.clips[near[-1]])
            out.append(
                Decision(u.held_out, over, u.pause is None, words, ends, prosody, base + near[-1])
            )
    return clips, out


class Graph:
    """One ONNX graph on one thread, as `SmartTurnModel` runs it."""

    def __init__(self, path: Path) -> None:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(
            str(path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self.input = self.session.get_inputs()[0].name

    def __call__(self, features: Features) -> float:
        (out,) = self.session.run(None, {self.input: features[np.newaxis]})[:1]
        return float(np.asarray(out).reshape(-1)[0])


def verdict(d: Decision, probability: float, cues: bool = True) -> bool:
    """The turn commits here, as the engine acts (see runtime/turn_scoring.py); with
    `cues` False, as it did before the cue model (Smart Turn lowered by the words)."""
    if d.clip < 0:
        return False
    cued = (
        TURN_CUES.probability(probability, d.sentence_end, d.last_word_end, d.prosody)
        if cues
        else None
    )
    if cued is None:
        cued = probability
        if d.sentence_end is not None and d.sentence_end < TEXT_END_MIN:
            cued = min(cued, d.sentence_end)
    return cued >= 0.5 and not ends_mid_sentence(d.words)


def timed(fn: Callable[[], object]) -> float:
    started = time.thread_time()
    fn()
    return time.thread_time() - started


def ms(values: Sequence[float]) -> str:
    return " / ".join(f"{1000 * percentile(values, q):.2f}" for q in (50, 95, 99))


@dataclass
class Variant:
    label: str
    p: list[float]  # per clip


def compare(base: Variant, other: Variant, decisions: Sequence[Decision]) -> None:
    used = [d for d in decisions if d.clip >= 0]
    delta = np.array([abs(base.p[d.clip] - other.p[d.clip]) for d in used])
    print(
        f"{other.label}\n    |delta p| over the {len(used)} decisions' clips: "
        f"max {delta.max():.3f}, "
        f"p95 {np.percentile(delta, 95):.3f}, p50 {np.median(delta):.4f}; "
        f"{int((delta > 0.05).sum())} move more than 0.05"
    )
    for (half, held), cues in itertools.product(
        (("tuning", False), ("held-out", True)), (True, False)
    ):
        ds = [d for d in decisions if d.held_out == held]
        changed = [
            d for d in ds if verdict(d, base.p[d.clip], cues) != verdict(d, other.p[d.clip], cues)
        ]
        counts = []
        for v in (base, other):
            cut = sum(verdict(d, v.p[d.clip], cues) for d in ds if not d.over)
            floor = sum(verdict(d, v.p[d.clip], cues) for d in ds if d.over and d.complete)
            counts.append(
                f"{cut}/{sum(1 for d in ds if not d.over)} hesitant cut, "
                f"{floor}/{sum(1 for d in ds if d.over and d.complete)} complete at the floor"
            )
        rule = "cue model" if cues else "rule before the cue model"
        print(
            f"    {half}, {rule}: {len(changed)} of {len(ds)} decisions change "
            f"({counts[0]} -> {counts[1]})"
            + "".join(
                f"\n      {'hesitant pause' if not d.over else 'end'} {d.words!r}: "
                f"p {base.p[d.clip]:.3f} -> {other.p[d.clip]:.3f}"
                for d in changed
            )
        )


def dithered(pcm: bytes, seed: int) -> bytes:
    """The same audio with +-1 of 32768 (an inaudible least significant bit) of noise."""
    x = np.frombuffer(pcm, dtype="<i2").astype(np.int32)
    noise = np.random.default_rng(seed).integers(-1, 2, x.size)
    return np.clip(x + noise, -32768, 32767).astype("<i2").tobytes()


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", type=Path, help="keep the recording in this pickle")
    ap.add_argument("--repeat", type=int, default=3, help="CPU: runs per decision clip")
    ap.add_argument("--cpu-only", action="store_true", help="skip the decisions' comparison")
    args = ap.parse_args(argv)

    model = SmartTurnModel(MODEL, text=True)
    if model.rewrites is None:
        raise SystemExit("the faster graph did not load: see the log")
    if args.cache is not None and args.cache.is_file():
        clips, decisions = pickle.loads(args.cache.read_bytes())
    else:
        clips, decisions = asyncio.run(record(model))
        if args.cache is not None:
            args.cache.write_bytes(pickle.dumps((clips, decisions)))
    refresh(decisions, clips, model)
    shipped = Graph(MODEL)
    print(f"{len(clips)} clips, {len(decisions)} decisions; load {os.getloadavg()[0]:.2f}")
    print(f"rewritten graph: {model.rewrites}")
    audio = [pcm16_to_float(c) for c in clips]
    if not args.cpu_only:
        ref_features = [reference_log_mel(x) for x in audio]
        reference = Variant(
            "the features as first written, the shipped graph", [shipped(f) for f in ref_features]
        )
        variants = [
            Variant("new features, the shipped graph", [shipped(log_mel(x)) for x in audio]),
            Variant(
                "first features, the rewritten graph",
                [model.features_probability(f) for f in ref_features],
            ),
            Variant(
                "new features, the rewritten graph (what runs now)",
                [model.completion_probability(c) for c in clips],
            ),
            Variant(
                "noise floor: the reference on the audio +-1 LSB of dither",
                [
                    shipped(reference_log_mel(pcm16_to_float(dithered(c, k))))
                    for k, c in enumerate(clips)
                ],
            ),
        ]
        print(f"reference: {reference.label}")
        for v in variants:
            compare(reference, v, decisions)

    # CPU: the decisions' clips, the first and the new way interleaved
    order = [d.clip for d in decisions if d.clip >= 0] * args.repeat
    seconds = sorted(len(clips[i]) / (2 * RATE) for i in set(order))
    print(
        f"CPU over {len(order)} runs of {len(set(order))} clips "
        f"({seconds[0]:.1f}-{seconds[-1]:.1f} s of audio, p50 {percentile(seconds, 50):.1f} s), "
        "thread CPU ms p50 / p95 / p99:"
    )
    t_ref, t_cand, f_ref, f_cand = [], [], [], []
    for i in order:
        x, pcm = audio[i], clips[i]
        f_ref.append(timed(lambda x=x: reference_log_mel(x)))
        f_cand.append(timed(lambda x=x: log_mel(x)))
        t_ref.append(timed(lambda pcm=pcm: shipped(reference_log_mel(pcm16_to_float(pcm)))))
        t_cand.append(timed(lambda pcm=pcm: model.completion_probability(pcm)))
    print(f"  features, first:                    {ms(f_ref)}")
    print(f"  features, new:                      {ms(f_cand)}")
    print(f"  features + model, first + shipped:  {ms(t_ref)}")
    print(f"  features + model, new + rewritten:  {ms(t_cand)}")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
