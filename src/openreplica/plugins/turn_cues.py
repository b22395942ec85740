"""One probability that the turn is over, from three kinds of evidence at a pause:

- the audio model (Smart Turn v3: `turn_smart.py`), as its logit;
- the words (P(a sentence ends after the transcript's last two words) from PocketSphinx's
  trigram language model: `turn_text.py`), as its log;
- the prosody just before the pause (`turn_prosody.py`): pitch declination, how low in
  the speaker's range the pitch ended, final lengthening, energy decay.

A logistic model over those six numbers (standardised). Its weights and its threshold
are fitted by `scripts/train_turn_cues.py` on the *tuning half* of the synthetic speech
set only (`tests/support/speech_set.py`: Piper and espeak-ng, hesitant utterances are a
silence spliced into a sentence spoken whole), and written to `turn_cues_weights.py`; the
held-out half judges them. The threshold is folded into the bias, so 0.5 is the decision
point like any end-of-turn probability. Fitted on synthetic voices, the weights say what
those voices need: there Smart Turn carries almost no information beyond the words and
the pitch (its weight comes out near 0); on real voices it should be refitted.
Arithmetic on a handful of floats: microseconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from openreplica.plugins.turn_prosody import ProsodyFeatures

__all__ = ["FEATURES", "CueWeights", "TurnCues", "cue_vector"]

#: the model's inputs, in order
FEATURES = (
    "smart_turn_logit",
    "log_sentence_end",
    "declination",
    "low",
    "final_lengthening",
    "energy_drop",
)
_EPS = 1e-4


@dataclass(frozen=True, slots=True)
class CueWeights:
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    #: includes -logit(threshold chosen on the tuning half)
    bias: float


def cue_vector(audio: float, sentence_end: float, prosody: ProsodyFeatures) -> list[float]:
    """The raw inputs, in `FEATURES` order."""
    p = min(max(audio, _EPS), 1.0 - _EPS)
    return [math.log(p / (1.0 - p)), math.log(max(sentence_end, _EPS)), *prosody.as_list()]


class TurnCues:
    """Stateless; one instance is shared by every conversation."""

    def __init__(self, weights: CueWeights) -> None:
        if not len(weights.mean) == len(weights.scale) == len(weights.weights) == len(FEATURES):
            raise ValueError(f"turn cue weights need {len(FEATURES)} values each")
        self.weights = weights

    def probability(
        self, audio: float, sentence_end: float | None, prosody: ProsodyFeatures | None
    ) -> float | None:
        """P(the turn is complete) from every cue, or None when the words or the prosody
        are missing (no language model, no word heard, too little voiced speech): the
        caller then decides as it would without this model."""
        if sentence_end is None or prosody is None:
            return None
        w = self.weights
        z = w.bias + sum(
            k * (x - m) / s
            for x, m, s, k in zip(
                cue_vector(audio, sentence_end, prosody), w.mean, w.scale, w.weights, strict=True
            )
        )
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))
