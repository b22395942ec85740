"""Weights of the end-of-turn cue model (`turn_cues.py`), written by
`scripts/train_turn_cues.py` from the tuning half of the synthetic speech set only
(threshold 0.8, folded into the bias). Do not edit by hand.
"""

from openreplica.plugins.turn_cues import CueWeights, TurnCues

__all__ = ["TURN_CUES"]

TURN_CUES = TurnCues(
    CueWeights(
        mean=(
            -2.14936,
            -2.27471,
            0.697895,
            0.139727,
            0.118,
        ),
        scale=(
            1.15098,
            1.03799,
            1.78217,
            0.686905,
            0.0946868,
        ),
        weights=(
            0.620477,
            0.561241,
            0.492002,
            0.866286,
            0.166066,
        ),
        bias=-0.405286,
    )
)
