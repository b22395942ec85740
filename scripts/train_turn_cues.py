"""Fit the end-of-turn cue model (`plugins/turn_cues.py`) on the tuning half of the
synthetic speech set and write `plugins/turn_cues_weights.py`.

    PYTHONPATH=src python scripts/train_turn_cues.py [--out PATH] [--evaluate] [--cache PKL]

Every utterance of the tuning half (`tests/support/speech_set.py`, larger set, Piper and
espeak-ng: 40 complete + 40 hesitant) runs through the real VAD (Silero), recogniser
(PocketSphinx) and Smart Turn on the virtual clock, as the tests do. At each pause the
scorer's inputs are recorded: the turn's audio (what the models hear) and the final
words. So that the recording does not depend on any decision rule, the recorder tells
the scorer every pause is incomplete (nothing commits before the 1.4 s cap, longer than
any pause in the set) while keeping the real Smart Turn and language-model values.

Examples: the decision at a hesitant utterance's mid-sentence pause is "not over" (0);
the decision at the end of every utterance (complete ones, and hesitant ones once
finished) is "over" (1). Pauses inside a sentence that the VAD closed for a moment are
left out. A logistic model (L2, lambda 1, Newton's method; standardised inputs) is fitted
on them. Its threshold is chosen on the same tuning half (a 0.01 grid from 0.5): the
lowest at which the tuning half meets the issue's bar, at most 5 % of its hesitant
utterances called complete at their pause, counted as the engine acts (a transcript
ending on a dangling word waits for the cap anyway). The script prints the trade-off
(hesitant called complete against complete ones called complete) at other thresholds,
and the rule before the cue model (Smart Turn, lowered by the words below
`TEXT_END_MIN`) beside it. Deterministic:
Piper runs without noise, and the fit has no randomness.

`--evaluate` also prints the same for the held-out half (which is recorded either way, so
`--cache` holds both; it is never used to fit or choose). The end-to-end figures come from
tests/integration/voice/test_end_of_turn_real.py and bench/voice.py.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import pickle
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))

from speech_set import RATE, Utterance, speech_set  # noqa: E402
from voice_harness import Listening, listening  # noqa: E402

from openreplica import protocol as p  # noqa: E402
from openreplica.engine import io as e  # noqa: E402
from openreplica.engine.trailing_words import ends_mid_sentence  # noqa: E402
from openreplica.plugins.asr_pocketsphinx import PocketSphinxASR  # noqa: E402
from openreplica.plugins.base import TTS  # noqa: E402
from openreplica.plugins.scripted import ScriptedLLM, ScriptedTTS  # noqa: E402
from openreplica.plugins.tts_espeak import EspeakTTS  # noqa: E402
from openreplica.plugins.tts_piper import PiperTTS  # noqa: E402
from openreplica.plugins.turn_cues import FEATURES, cue_vector  # noqa: E402
from openreplica.plugins.turn_prosody import prosody_features  # noqa: E402
from openreplica.plugins.turn_smart import SmartTurnModel  # noqa: E402
from openreplica.plugins.vad_silero import SileroVAD  # noqa: E402
from openreplica.runtime.turn_scoring import TEXT_END_MIN  # noqa: E402

MODEL = ROOT / ".cache" / "models" / "smart-turn-v3.2-cpu.onnx"
OUT = ROOT / "src" / "openreplica" / "plugins" / "turn_cues_weights.py"
LAMBDA = 1.0
#: the issue's bar: at most this share of hesitant utterances cut
BAR = 0.05
#: the decision belongs to a pause ending within this of the utterance's pause or end (s)
NEAR = 0.25

Floats = npt.NDArray[np.float64]


class Recorder:
    """Smart Turn and its language model, recording what they were asked and answering
    "not over" to the scorer, so no decision rule shapes the recording."""

    name = "smart_turn"

    def __init__(self, inner: SmartTurnModel) -> None:
        self.inner = inner
        self.heard: list[tuple[bytes, float]] = []
        self.read: list[tuple[str, float | None]] = []

    def completion_probability(self, pcm16k: bytes) -> float:
        self.heard.append((pcm16k, self.inner.completion_probability(pcm16k)))
        return 0.0

    def sentence_end_probability(self, text: str) -> float | None:
        self.read.append((text, self.inner.sentence_end_probability(text)))
        return 0.0


@dataclass
class Decision:
    utterance: Utterance
    over: bool  # the label
    audio: float
    words: str
    sentence_end: float | None
    inputs: list[float] | None  # None: the prosody could not be measured


def spy(h: Listening) -> list[e.EngineInput]:
    """Every input the runtime feeds its engine, recorded on the way."""
    seen: list[e.EngineInput] = []
    feed = h.runtime.feed

    def recording(item: e.EngineInput) -> None:
        seen.append(item)
        feed(item)

    h.runtime.feed = recording  # type: ignore[method-assign]
    return seen


async def record(
    utterances: Sequence[Utterance], model: SmartTurnModel, frame: float = 512 / RATE
) -> list[Decision]:
    silero, sphinx = SileroVAD(), PocketSphinxASR()
    out: list[Decision] = []
    for u in utterances:
        rec = Recorder(model)
        h = await listening(
            tts=ScriptedTTS(sample_rate=RATE),
            llm=ScriptedLLM.replies(*["Sure."] * 20),
            vad=silero,
            asr=sphinx,
            turn=rec,
        )
        seen = spy(h)
        await h.push(u.pcm)
        await h.clock.advance(2.0)
        await h.runtime.shutdown("end_conversation_endpoint_hit")
        commits = [x for _, x in h.of(p.Utterance) if x.properties.role == "user"]
        if len(commits) != 1 or commits[0].properties.turn_decided_by != "silence":
            raise RuntimeError(f"the recording committed mid-way: {u.text!r} {commits}")
        # the scorer's turn starts half a second before its first speech
        turn_start = next(x for x in seen if isinstance(x, e.UserSpeechStarted)).media_time - 0.5
        scored = [x for x in seen if isinstance(x, e.TurnScored)]
        for item, (words, ends) in zip(scored, rec.read, strict=True):
            pcm, audio = min(
                rec.heard,
                key=lambda c: abs(turn_start + len(c[0]) / (2 * RATE) - item.speech_end - frame),
            )
            if u.pause is not None and abs(item.speech_end - u.pause[0]) < NEAR:
                over = False
            elif abs(item.speech_end - u.end) < NEAR:
                over = True
            else:
                continue  # a short dip inside a sentence
            prosody = prosody_features(pcm)
            inputs = None if ends is None or prosody is None else cue_vector(audio, ends, prosody)
            out.append(Decision(u, over, audio, words, ends, inputs))
    return out


def fit(x: Floats, y: Floats, lam: float) -> Floats:
    """L2-regularised logistic regression (the bias unpenalised); returns [w..., b]."""
    n, k = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    beta = np.zeros(k + 1)
    penalty = lam * np.diag(np.r_[np.ones(k), 0.0])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(xb @ beta)))
        grad = xb.T @ (p - y) + penalty @ beta
        hess = (xb * (p * (1.0 - p))[:, None]).T @ xb + penalty
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-10:
            break
    return beta


def calls(decisions: Sequence[Decision], says_over: Sequence[bool]) -> tuple[int, int, int, int]:
    """(hesitant called complete at their pause, of how many; complete utterances called
    complete at their end, of how many), as the engine would act (a dangling last word
    waits for the cap)."""
    cut = hesitant = floor = complete = 0
    for d, over in zip(decisions, says_over, strict=True):
        commits = over and not ends_mid_sentence(d.words)
        if not d.over:
            hesitant += 1
            cut += commits
        elif d.utterance.pause is None:
            complete += 1
            floor += commits
    return cut, hesitant, floor, complete


def old_rule(d: Decision) -> bool:
    p = d.audio
    if d.sentence_end is not None and d.sentence_end < TEXT_END_MIN:
        p = min(p, d.sentence_end)
    return p >= 0.5


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--evaluate", action="store_true", help="also judge on the held-out half")
    ap.add_argument(
        "--cache", type=Path, help="keep the recordings in this pickle (re-fit without re-running)"
    )
    args = ap.parse_args(argv)

    if args.cache is not None and args.cache.is_file():
        tuning, held = pickle.loads(args.cache.read_bytes())
    else:
        piper = PiperTTS.default(threads=1, noise_scale=0.0, noise_w_scale=0.0)
        piper.load()
        voices: dict[str, TTS] = {"piper": piper, "espeak": EspeakTTS()}
        everything = asyncio.run(speech_set(voices, larger=True))
        model = SmartTurnModel(MODEL)
        tuning = asyncio.run(record([u for u in everything if not u.held_out], model))
        held = asyncio.run(record([u for u in everything if u.held_out], model))
        if args.cache is not None:
            args.cache.write_bytes(pickle.dumps((tuning, held)))
    usable = [d for d in tuning if d.inputs is not None]
    x = np.array([d.inputs for d in usable], dtype=np.float64)
    y = np.array([float(d.over) for d in usable])
    mean, scale = x.mean(axis=0), x.std(axis=0)
    beta = fit((x - mean) / scale, y, LAMBDA)
    # The threshold: the lowest at which the tuning half meets the bar (at most
    # 5 % of its hesitant utterances called complete at their pause).
    threshold: float | None = None
    for t in np.arange(0.5, 0.99, 0.01):
        cut, hesitant, _, _ = calls(tuning, says(tuning, mean, scale, beta, bias_for(beta, t)))
        if cut <= BAR * hesitant:
            threshold = round(float(t), 2)
            break
    if threshold is None:
        raise RuntimeError("no threshold meets the bar on the tuning half")
    bias = bias_for(beta, threshold)
    print(f"{len(usable)} tuning decisions ({len(tuning) - len(usable)} without prosody)")
    print(f"weights {dict(zip(FEATURES, np.round(beta[:-1], 3), strict=True))}")
    print(f"threshold {threshold} (chosen on the tuning half)")
    halves = [("tuning", tuning)] + ([("held-out", held)] if args.evaluate else [])
    for name, half in halves:
        print(f"{name}, rule before: {fmt(calls(half, [old_rule(d) for d in half]))}")
        print(f"{name}, cue model:   {fmt(calls(half, says(half, mean, scale, beta, bias)))}")
        for t in np.arange(0.6, 0.96, 0.05):
            verdicts = says(half, mean, scale, beta, bias_for(beta, float(t)))
            print(f"    {name} at threshold {t:.2f}: {fmt(calls(half, verdicts))}")
    write(args.out, mean, scale, beta[:-1], bias, threshold)
    print(f"wrote {args.out}")


def bias_for(beta: Floats, threshold: float) -> float:
    """The bias with the threshold folded in (so 0.5 is the decision point)."""
    return float(beta[-1]) - math.log(threshold / (1.0 - threshold))


def says(
    decisions: Sequence[Decision], mean: Floats, scale: Floats, beta: Floats, bias: float
) -> list[bool]:
    """The cue model's verdicts (the rule before where the inputs are missing)."""
    out = []
    for d in decisions:
        if d.inputs is None:
            out.append(old_rule(d))
        else:
            zz = float(((np.array(d.inputs) - mean) / scale) @ beta[:-1]) + bias
            out.append(zz >= 0.0)
    return out


def fmt(c: tuple[int, int, int, int]) -> str:
    return f"hesitant called complete {c[0]}/{c[1]}, complete called complete {c[2]}/{c[3]}"


def write(
    path: Path, mean: Floats, scale: Floats, weights: Floats, bias: float, threshold: float
) -> None:
    def row(values: Floats) -> str:  # one value a line: as `ruff format` leaves it
        return "(\n" + "".join(f"            {v:.6g},\n" for v in values) + "        )"

    path.write_text(
        '"""Weights of the end-of-turn cue model (`turn_cues.py`), written by\n'
        "`scripts/train_turn_cues.py` from the tuning half of the synthetic speech set only\n"
        f"(threshold {threshold}, folded into the bias). Do not edit by hand.\n"
        '"""\n\n'
        "from openreplica.plugins.turn_cues import CueWeights, TurnCues\n\n"
        '__all__ = ["TURN_CUES"]\n\n'
        "TURN_CUES = TurnCues(\n"
        "    CueWeights(\n"
        f"        mean={row(mean)},\n"
        f"        scale={row(scale)},\n"
        f"        weights={row(weights)},\n"
        f"        bias={bias:.6g},\n"
        "    )\n"
        ")\n"
    )


if __name__ == "__main__":
    main()
