"""One probability that the turn is over, from three kinds of evidence at a pause:

- the words: how often PocketSphinx's trigram language model ends a sentence after the
  transcript's last two words, and after its last word alone (`turn_text.py`), as logs;
- the audio model (Smart Turn v3: `turn_smart.py`), as its logit (clipped to ±4), weighed
  by how natural the voice's pitch movement is (`natural_voice`);
- the syllable rhythm just before the pause (`turn_prosody.py`): how long the last
  syllable is against the turn's earlier ones, and how long the voice takes to die away.

A logistic model over those five numbers (standardised). Its weights and its threshold
are fitted by `scripts/train_turn_cues.py` on the *tuning half* of the synthetic speech
set only (`tests/support/speech_set.py`: Piper and espeak-ng, hesitant utterances are a
silence spliced into a sentence spoken whole), and written to `turn_cues_weights.py`; the
held-out half judges them. The threshold is folded into the bias, so 0.5 is the decision
point like any end-of-turn probability.

Why these: on the pauses the cue model actually decides (the scorer and the engine
already hold a turn whose words stop on "the" or "to", or read unfinished both at the
first silent frame and in the final transcript), the pitch cues measured before
(declination, how low the pitch ended, lengthening of the last voiced stretch, energy
decay) told the two kinds apart poorly or in opposite directions for the two voices,
and Smart Turn's verdict points the *wrong* way on espeak-ng (its complete sentences
score lower than its cut ones). The last syllable's length relative to the turn's own
syllables and the fade-out point the same way for both voices. Fitted on synthetic
voices; real voices would need a refit.
Arithmetic on a handful of floats: microseconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from openreplica.plugins.turn_prosody import ProsodyFeatures

__all__ = ["FEATURES", "CueWeights", "TurnCues", "cue_vector", "natural_voice"]

#: the model's inputs, in order
FEATURES = (
    "log_sentence_end",
    "log_sentence_end_last_word",
    "smart_turn_logit_natural",
    "final_syllable",
    "release",
)
_EPS = 1e-4
_LOGIT_CLIP = 4.0
#: pitch jitter (semitones per 15 ms frame) at and above which Smart Turn counts fully,
#: and below which not at all: espeak-ng measures 0.21 ± 0.01, Piper 0.4 ± 0.1 on the
#: tuning half; a human voice moves at least as much as Piper's
_SMOOTH, _NATURAL = 0.22, 0.32


@dataclass(frozen=True, slots=True)
class CueWeights:
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    #: includes -logit(threshold chosen on the tuning half)
    bias: float


def natural_voice(prosody: ProsodyFeatures) -> float:
    """0 for a voice whose pitch moves as smoothly as a formant synthesiser's, 1 for one
    that moves like a neural or a human voice, linear between: how far Smart Turn (trained
    on human speech) is to be believed."""
    return min(1.0, max(0.0, (prosody.pitch_jitter - _SMOOTH) / (_NATURAL - _SMOOTH)))


def cue_vector(
    audio: float, sentence_end: float, last_word_end: float, prosody: ProsodyFeatures
) -> list[float]:
    """The raw inputs, in `FEATURES` order."""
    p = min(max(audio, _EPS), 1.0 - _EPS)
    logit = min(_LOGIT_CLIP, max(-_LOGIT_CLIP, math.log(p / (1.0 - p))))
    return [
        math.log(max(sentence_end, _EPS)),
        math.log(max(last_word_end, _EPS)),
        logit * natural_voice(prosody),
        prosody.final_syllable,
        prosody.release,
    ]


class TurnCues:
    """Stateless; one instance is shared by every conversation."""

    def __init__(self, weights: CueWeights) -> None:
        if not len(weights.mean) == len(weights.scale) == len(weights.weights) == len(FEATURES):
            raise ValueError(f"turn cue weights need {len(FEATURES)} values each")
        self.weights = weights

    def probability(
        self,
        audio: float,
        sentence_end: float | None,
        last_word_end: float | None,
        prosody: ProsodyFeatures | None,
    ) -> float | None:
        """P(the turn is complete) from every cue, or None when the words or the prosody
        are missing (no language model, no word heard, too little voiced speech): the
        caller then decides as it would without this model."""
        if sentence_end is None or last_word_end is None or prosody is None:
            return None
        w = self.weights
        z = w.bias + sum(
            k * (x - m) / s
            for x, m, s, k in zip(
                cue_vector(audio, sentence_end, last_word_end, prosody),
                w.mean,
                w.scale,
                w.weights,
                strict=True,
            )
        )
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def probability_range(
        self,
        sentence_end: float | None,
        last_word_end: float | None,
        prosody: ProsodyFeatures | None,
    ) -> tuple[float, float] | None:
        """The lowest and the highest probability the audio model could lead to, the
        other cues being these (its logit is clipped, so its say is bounded); None when
        they are missing. Both on one side of the decision point: the audio model need
        not be run."""
        silent = self.probability(0.0, sentence_end, last_word_end, prosody)
        sure = self.probability(1.0, sentence_end, last_word_end, prosody)
        if silent is None or sure is None:
            return None
        return min(silent, sure), max(silent, sure)
