"""Fit the end-of-turn cue model (`plugins/turn_cues.py`) on the tuning half of the
synthetic speech set and write `plugins/turn_cues_weights.py`.

    PYTHONPATH=src python scripts/train_turn_cues.py [--out PATH] [--evaluate] [--cache PKL]
        [--one-pass]

Every utterance of the tuning half (`tests/support/speech_set.py`, larger set, Piper and
espeak-ng: 40 complete + 40 hesitant) runs through the real VAD (Silero), recogniser
(PocketSphinx) and Smart Turn on the virtual clock, as the tests do. At each pause the
scorer's inputs are recorded: the turn's audio (what the models hear) and the final
words. So that the recording does not depend on any decision rule, the recorder tells
the scorer every pause is incomplete (nothing commits before the 1.4 s cap, longer than
any pause in the set) while keeping the real Smart Turn and language-model values.

(The scorer normally skips the audio model when the recogniser's guess at the first
silent frame already reads unfinished; the recording runs it at every pause and keeps
the guess, so the evaluation below can act as the scorer does.)

Examples: the decision at a hesitant utterance's mid-sentence pause is "not over" (0);
the decision at the end of every utterance (complete ones, and hesitant ones once
finished) is "over" (1). Pauses inside a sentence that the VAD closed for a moment are
left out. The cue model's inputs (`turn_cues.cue_vector`: the language model after the
last two words and after the last word, Smart Turn weighed by how natural the voice's
pitch movement is, the last syllable's relative length, the fade-out) are computed from
the recording, so a change of features needs no new recording (`--cache`). A logistic
model (L2, lambda 1, Newton's method; standardised inputs) is fitted on them. Its
threshold is chosen on the same tuning half (a 0.01 grid from 0.5): the lowest at which
the tuning half meets the issue's bar, at most 5 % of its hesitant utterances called
complete at their pause, counted as the scorer and the engine act (a transcript ending
on a dangling word waits for the cap; so does one whose words read unfinished both at
the first silent frame and in the final transcript: the model is not asked). The
script prints a cross-validation on the tuning half alone (4-, 5- and 8-fold over its
sentences: fit and threshold on the other folds, count on the fold), the trade-off at
other thresholds, and the rule before the cue model (Smart Turn, lowered by the words
below `TEXT_END_MIN`) beside it. Deterministic: Piper runs without noise, and the fit
and the folds have no randomness.

`--evaluate` also prints the same for the held-out half (which is recorded either way, so
`--cache` holds both; it is never used to fit or choose), and the small set's sentences
(the first six of each list, in both halves) per voice. The end-to-end figures come from
tests/integration/voice/test_end_of_turn_real.py and bench/voice.py.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import pickle
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest.mock import patch

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))

from speech_set import COMPLETE, HESITANT, Utterance, speech_set  # noqa: E402
from turn_recording import hear, label  # noqa: E402

from openreplica.engine.trailing_words import ends_mid_sentence  # noqa: E402
from openreplica.plugins.asr_pocketsphinx import PocketSphinxASR  # noqa: E402
from openreplica.plugins.base import TTS, RunStop  # noqa: E402
from openreplica.plugins.tts_espeak import EspeakTTS  # noqa: E402
from openreplica.plugins.tts_piper import PiperTTS  # noqa: E402
from openreplica.plugins.turn_cues import FEATURES, cue_vector  # noqa: E402
from openreplica.plugins.turn_prosody import prosody_features  # noqa: E402
from openreplica.plugins.turn_smart import SmartTurnModel  # noqa: E402
from openreplica.plugins.turn_text import SentenceEndLM, default_lm_path, last_word  # noqa: E402
from openreplica.plugins.vad_silero import SileroVAD  # noqa: E402
from openreplica.runtime import turn_scoring  # noqa: E402
from openreplica.runtime.turn_scoring import TEXT_END_MIN, TurnScorer  # noqa: E402

MODEL = ROOT / ".cache" / "models" / "smart-turn-v3.2-cpu.onnx"
OUT = ROOT / "src" / "openreplica" / "plugins" / "turn_cues_weights.py"
LAMBDA = 1.0
#: the issue's bar: at most this share of hesitant utterances cut
BAR = 0.05

Floats = npt.NDArray[np.float64]


class Recorder:
    """Smart Turn and its language model, recording what they were asked and answering
    "not over" to the scorer, so no decision rule shapes the recording."""

    name = "smart_turn"

    def __init__(self, inner: SmartTurnModel) -> None:
        self.inner = inner
        self.heard: list[tuple[bytes, float]] = []
        self.read: list[tuple[str, float | None]] = []

    def completion_probability(self, pcm16k: bytes, stop: RunStop | None = None) -> float:
        # every run is recorded, a moot one too (the stop is not passed on): the
        # recording does not depend on how fast this machine scored the pauses
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
    pcm: bytes  # the turn's audio the models heard
    #: the recogniser's guess at the turn's words at the first silent frame (the scorer
    #: skips the audio model when it already reads unfinished)
    guess: str


@contextmanager
def every_pause_scored(guesses: list[tuple[float, str]]) -> Iterator[None]:
    """The scorer runs the audio model at every pause (the words never decide before it)
    and applies no cue model: with the recorder's 0.0 every decision is "not over". The
    recogniser's guesses at the first silent frame are kept in `guesses`."""
    ending = TurnScorer.speech_ending

    def recording(self: TurnScorer, speech_end: float, guess: str = "") -> None:
        guesses.append((speech_end, " ".join([*self._turn_texts, guess.strip()]).strip()))
        ending(self, speech_end, guess)

    with (
        patch.object(TurnScorer, "speech_ending", recording),
        patch.object(TurnScorer, "words_bound", lambda self, words: None),
        patch.object(turn_scoring, "_bound", lambda words, ends: None),
        patch.dict(TurnScorer.__init__.__kwdefaults__ or {}, {"cues": None}),
    ):
        yield


async def record(
    utterances: Sequence[Utterance], model: SmartTurnModel, *, second_pass: bool = True
) -> list[Decision]:
    silero, sphinx = SileroVAD(), PocketSphinxASR(second_pass=second_pass)
    out: list[Decision] = []
    for u in utterances:
        rec = Recorder(model)
        guesses: list[tuple[float, str]] = []
        with every_pause_scored(guesses):
            out.extend(await record_one(u, rec, silero, sphinx, guesses))
    return out


async def record_one(
    u: Utterance,
    rec: Recorder,
    silero: SileroVAD,
    sphinx: PocketSphinxASR,
    guesses: list[tuple[float, str]],
) -> list[Decision]:
    out: list[Decision] = []
    heard = await hear(u, rec, silero, sphinx)
    for item, (words, ends) in zip(heard.scored, rec.read, strict=True):
        pcm, audio = min(rec.heard, key=lambda c: heard.clip_gap(c[0], item.speech_end))
        over = label(u, item.speech_end)
        if over is None:
            continue  # a short dip inside a sentence
        guess = next((g for t, g in guesses if t == item.speech_end), "")
        out.append(Decision(u, over, audio, words, ends, pcm, guess))
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


def inputs(d: Decision, lm: SentenceEndLM) -> list[float] | None:
    """The cue model's inputs at this pause, as the scorer computes them (None: the
    words or the prosody are missing, and the scorer falls back to the rule before)."""
    prosody = prosody_features(d.pcm)
    last = lm.end_probability(last_word(d.words))
    if d.sentence_end is None or last is None or prosody is None:
        return None
    return cue_vector(d.audio, d.sentence_end, last, prosody)


def unfinished(words: str, lm: SentenceEndLM) -> bool:
    """The words alone hold the turn (`turn_scoring.words_bound` is not None)."""
    ends = lm.end_probability(words) if words.strip() else None
    return (ends is not None and ends < TEXT_END_MIN) or ends_mid_sentence(words)


@dataclass
class Example:
    decision: Decision
    x: list[float] | None
    #: the model is not asked: the guess and the final both read unfinished
    held_by_words: bool


def examples(decisions: Sequence[Decision], lm: SentenceEndLM) -> list[Example]:
    return [
        Example(
            d,
            inputs(d, lm),
            bool(d.guess.strip()) and unfinished(d.guess, lm) and unfinished(d.words, lm),
        )
        for d in decisions
    ]


@dataclass
class Model:
    mean: Floats
    scale: Floats
    beta: Floats  # weights, then the bias (threshold 0.5)

    def says(self, ex: Example, threshold: float) -> bool:
        """The cue model's verdict (the rule before where the inputs are missing)."""
        if ex.x is None:
            return old_rule(ex.decision)
        z = float(((np.array(ex.x) - self.mean) / self.scale) @ self.beta[:-1])
        return z + bias_for(self.beta, threshold) >= 0.0


def verdicts(model: Model, threshold: float) -> Callable[[Example], bool]:
    return lambda ex: model.says(ex, threshold)


def train(exs: Sequence[Example]) -> Model:
    usable = [ex for ex in exs if ex.x is not None]
    x = np.array([ex.x for ex in usable], dtype=np.float64)
    y = np.array([float(ex.decision.over) for ex in usable])
    mean, scale = x.mean(axis=0), x.std(axis=0)
    return Model(mean, scale, fit((x - mean) / scale, y, LAMBDA))


def commits(ex: Example, over: bool) -> bool:
    """Does the turn commit at the floor, as the scorer and the engine act?"""
    return over and not ex.held_by_words and not ends_mid_sentence(ex.decision.words)


@dataclass
class Counts:
    cut: int = 0  # hesitant utterances committed at their mid-sentence pause
    hesitant: int = 0
    floor: int = 0  # complete utterances committed at the floor
    complete: int = 0

    def __str__(self) -> str:
        return (
            f"hesitant cut {self.cut}/{self.hesitant}, "
            f"complete at the floor {self.floor}/{self.complete}"
        )


def count(exs: Sequence[Example], verdict: Callable[[Example], bool]) -> Counts:
    c = Counts()
    for ex in exs:
        d = ex.decision
        committed = commits(ex, verdict(ex))
        if not d.over:
            c.hesitant += 1
            c.cut += committed
        elif d.utterance.pause is None:
            c.complete += 1
            c.floor += committed
    return c


def old_rule(d: Decision) -> bool:
    p = d.audio
    if d.sentence_end is not None and d.sentence_end < TEXT_END_MIN:
        p = min(p, d.sentence_end)
    return p >= 0.5


def choose_threshold(model: Model, exs: Sequence[Example]) -> float | None:
    """The lowest threshold (0.01 grid from 0.5) at which at most `BAR` of the hesitant
    utterances in `exs` are cut."""
    for t in np.arange(0.5, 0.995, 0.01):
        c = count(exs, verdicts(model, float(t)))
        if c.cut <= BAR * c.hesitant:
            return round(float(t), 2)
    return None


def cross_validate(exs: Sequence[Example], folds: int) -> Counts:
    """Fit and choose the threshold without one fold of the sentences, count on it."""
    sentences = sorted({ex.decision.utterance.text for ex in exs})
    total = Counts()
    for k in range(folds):
        held = set(sentences[k::folds])
        rest = [ex for ex in exs if ex.decision.utterance.text not in held]
        model = train(rest)
        t = choose_threshold(model, rest) or 0.99
        c = count(
            [ex for ex in exs if ex.decision.utterance.text in held],
            verdicts(model, t),
        )
        total = Counts(
            total.cut + c.cut,
            total.hesitant + c.hesitant,
            total.floor + c.floor,
            total.complete + c.complete,
        )
    return total


def small_set(exs: Sequence[Example], verdict: Callable[[Example], bool]) -> str:
    """The sentences of the small set (`speech_set(...)` without `larger`) per voice."""
    small = set(COMPLETE) | {text for text, _, _ in HESITANT}
    out = []
    for voice in ("piper", "espeak"):
        mine = [
            ex
            for ex in exs
            if ex.decision.utterance.voice == voice and ex.decision.utterance.text in small
        ]
        out.append(f"{voice}: {count(mine, verdict)}")
    return "; ".join(out)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--evaluate", action="store_true", help="also judge on the held-out half")
    ap.add_argument(
        "--cache", type=Path, help="keep the recordings in this pickle (re-fit without re-running)"
    )
    ap.add_argument(
        "--one-pass",
        action="store_true",
        help="record with PocketSphinx's first search pass only (`second_pass=False`)",
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
        second_pass = not args.one_pass
        tuning_half = [u for u in everything if not u.held_out]
        held_half = [u for u in everything if u.held_out]
        tuning = asyncio.run(record(tuning_half, model, second_pass=second_pass))
        held = asyncio.run(record(held_half, model, second_pass=second_pass))
        if args.cache is not None:
            args.cache.write_bytes(pickle.dumps((tuning, held)))
    lm_path = default_lm_path()
    if lm_path is None:
        raise RuntimeError("pocketsphinx's language model is missing")
    lm = SentenceEndLM(lm_path)
    tune = examples(tuning, lm)
    cue = train(tune)
    threshold = choose_threshold(cue, tune)
    if threshold is None:
        raise RuntimeError("no threshold meets the bar on the tuning half")
    usable = sum(ex.x is not None for ex in tune)
    print(f"{usable} tuning decisions ({len(tune) - usable} without the cues' inputs)")
    print(f"weights {dict(zip(FEATURES, np.round(cue.beta[:-1], 3), strict=True))}")
    print(f"threshold {threshold} (chosen on the tuning half)")
    for folds in (4, 5, 8):
        print(f"tuning half, {folds}-fold cross-validation: {cross_validate(tune, folds)}")
    halves = [("tuning", tune)] + ([("held-out", examples(held, lm))] if args.evaluate else [])
    for name, half in halves:
        print(f"{name}, rule before: {count(half, lambda ex: old_rule(ex.decision))}")
        print(f"{name}, cue model:   {count(half, verdicts(cue, threshold))}")
        for t in np.arange(0.6, 0.96, 0.05):
            at = count(half, verdicts(cue, float(t)))
            print(f"    {name} at threshold {t:.2f}: {at}")
    if args.evaluate:
        both = halves[0][1] + halves[1][1]
        print(f"small set, cue model: {small_set(both, verdicts(cue, threshold))}")
    write(args.out, cue.mean, cue.scale, cue.beta[:-1], bias_for(cue.beta, threshold), threshold)
    print(f"wrote {args.out}")


def bias_for(beta: Floats, threshold: float) -> float:
    """The bias with the threshold folded in (so 0.5 is the decision point)."""
    return float(beta[-1]) - math.log(threshold / (1.0 - threshold))


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
