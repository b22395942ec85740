"""Weights of the end-of-turn cue model (`turn_cues.py`), written by
`scripts/train_turn_cues.py` from the tuning half of the synthetic speech set only
(threshold 0.85, folded into the bias). Do not edit by hand.
"""

from openreplica.plugins.turn_cues import CueWeights, TurnCues

__all__ = ["TURN_CUES"]

TURN_CUES = TurnCues(
    CueWeights(
        mean=(
            -2.17873,
            -2.30319,
            0.68188,
            0.139727,
            0.118,
        ),
        scale=(
            1.15654,
            1.07568,
            1.73419,
            0.686905,
            0.0946868,
        ),
        weights=(
            0.462011,
            0.784924,
            0.391163,
            0.837933,
            0.0721947,
        ),
        bias=-0.746156,
    )
)
