"""Weights of the end-of-turn cue model (`turn_cues.py`), written by
`scripts/train_turn_cues.py` from the tuning half of the synthetic speech set only
(threshold 0.88, folded into the bias). Do not edit by hand.
"""

from openreplica.plugins.turn_cues import CueWeights, TurnCues

__all__ = ["TURN_CUES"]

TURN_CUES = TurnCues(
    CueWeights(
        mean=(
            0.993214,
            -2.1728,
            -2.18308,
            0.32122,
            -0.273711,
            -0.640879,
        ),
        scale=(
            2.63083,
            1.15864,
            2.6138,
            0.345458,
            1.10538,
            0.641576,
        ),
        weights=(
            -0.0717822,
            1.17593,
            -0.220513,
            0.174121,
            0.359007,
            -0.375979,
        ),
        bias=-1.17081,
    )
)
