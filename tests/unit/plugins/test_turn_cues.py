"""The cue model's arithmetic: standardised inputs, weights, a logistic."""

from __future__ import annotations

import math

import pytest

from openreplica.plugins.turn_cues import FEATURES, CueWeights, TurnCues, cue_vector
from openreplica.plugins.turn_cues_weights import TURN_CUES
from openreplica.plugins.turn_prosody import ProsodyFeatures

FALLING = ProsodyFeatures(declination=-4.0, low=0.5, final_lengthening=0.8, energy_drop=-0.3)
LEVEL = ProsodyFeatures(declination=0.0, low=0.0, final_lengthening=-0.5, energy_drop=0.0)


def test_inputs_are_the_logit_of_the_audio_and_the_log_of_the_words() -> None:
    x = cue_vector(0.8, 0.25, FALLING)
    assert len(x) == len(FEATURES)
    assert x[0] == pytest.approx(math.log(4.0)) and x[1] == pytest.approx(math.log(0.25))
    assert x[2:] == [-4.0, 0.5, 0.8, -0.3]
    assert math.isfinite(cue_vector(1.0, 0.0, LEVEL)[0])  # clipped, never infinite


def test_a_logistic_over_standardised_inputs() -> None:
    cues = TurnCues(
        CueWeights((0.0,) * 6, (1.0, 1.0, 2.0, 1.0, 1.0, 1.0), (0.0, 0.0, -1.0, 0, 0, 0), 0.5)
    )
    # z = 0.5 - (-4 / 2)
    assert cues.probability(0.5, 0.5, FALLING) == pytest.approx(1 / (1 + math.exp(-2.5)))


def test_without_words_or_prosody_it_abstains() -> None:
    assert TURN_CUES.probability(0.9, None, FALLING) is None
    assert TURN_CUES.probability(0.9, 0.3, None) is None


def test_weights_of_the_wrong_size_are_refused() -> None:
    with pytest.raises(ValueError):
        TurnCues(CueWeights((0.0,) * 5, (1.0,) * 5, (1.0,) * 5, 0.0))


def test_the_packaged_model_hears_a_finished_statement_from_a_pause() -> None:
    # the same words and audio score; a falling, lengthened ending against a level one
    finished = TURN_CUES.probability(0.9, 0.3, FALLING)
    going_on = TURN_CUES.probability(0.9, 0.3, LEVEL)
    assert finished is not None and going_on is not None
    assert finished > 0.5 > going_on
    # the words count: a sentence rarely ends after "for a"
    dangling = TURN_CUES.probability(0.9, 0.002, FALLING)
    assert dangling is not None and dangling < finished
