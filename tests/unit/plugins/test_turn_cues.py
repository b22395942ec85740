"""The cue model's arithmetic: standardised inputs, weights, a logistic; and how much
the audio model counts for a voice."""

from __future__ import annotations

import math

import pytest

from openreplica.plugins.turn_cues import (
    FEATURES,
    CueWeights,
    TurnCues,
    cue_vector,
    natural_voice,
)
from openreplica.plugins.turn_cues_weights import TURN_CUES
from openreplica.plugins.turn_prosody import ProsodyFeatures

_PITCH = {"declination": -2.0, "low": 0.3, "final_lengthening": 0.0, "energy_drop": -0.5}
#: a long last syllable that fades, in a voice whose pitch moves like a person's
FINISHED = ProsodyFeatures(**_PITCH, pitch_jitter=0.4, final_syllable=0.8, release=0.2)
#: a short last syllable cut off
GOING_ON = ProsodyFeatures(**_PITCH, pitch_jitter=0.4, final_syllable=-0.6, release=0.02)


def test_inputs_are_the_logs_of_the_words_and_the_logit_of_the_audio() -> None:
    x = cue_vector(0.8, 0.25, 0.1, FINISHED)
    assert len(x) == len(FEATURES)
    assert x[0] == pytest.approx(math.log(0.25)) and x[1] == pytest.approx(math.log(0.1))
    assert x[2] == pytest.approx(math.log(4.0))
    assert x[3:] == [0.8, 0.2]
    assert cue_vector(1.0, 0.0, 0.0, GOING_ON)[:3] == [math.log(1e-4), math.log(1e-4), 4.0]


def test_the_audio_model_counts_less_for_a_voice_with_a_synthesisers_smooth_pitch() -> None:
    assert natural_voice(FINISHED) == 1.0
    espeak_like = ProsodyFeatures(**_PITCH, pitch_jitter=0.21, final_syllable=0.8, release=0.2)
    assert natural_voice(espeak_like) == 0.0
    halfway = ProsodyFeatures(**_PITCH, pitch_jitter=0.27, final_syllable=0.8, release=0.2)
    assert natural_voice(halfway) == pytest.approx(0.5)
    assert cue_vector(0.9, 0.3, 0.3, espeak_like)[2] == 0.0
    assert cue_vector(0.9, 0.3, 0.3, halfway)[2] == pytest.approx(0.5 * math.log(9.0))


def test_a_logistic_over_standardised_inputs() -> None:
    cues = TurnCues(
        CueWeights((0.0,) * 5, (1.0, 1.0, 1.0, 2.0, 1.0), (0.0, 0.0, 0.0, 1.0, 0.0), 0.5)
    )
    # z = 0.5 + 0.8 / 2
    assert cues.probability(0.5, 0.5, 0.5, FINISHED) == pytest.approx(1 / (1 + math.exp(-0.9)))


def test_without_words_or_prosody_it_abstains() -> None:
    assert TURN_CUES.probability(0.9, None, 0.3, FINISHED) is None
    assert TURN_CUES.probability(0.9, 0.3, None, FINISHED) is None
    assert TURN_CUES.probability(0.9, 0.3, 0.3, None) is None


def test_the_audio_models_say_is_bounded_by_its_clipped_logit() -> None:
    # only the audio model counts, by its logit: z = 0.25 x logit, the logit within +-4
    cues = TurnCues(CueWeights((0.0,) * 5, (1.0,) * 5, (0.0, 0.0, 0.25, 0.0, 0.0), 0.0))
    low, high = cues.probability_range(0.3, 0.3, FINISHED) or (0.0, 0.0)
    assert low == pytest.approx(1 / (1 + math.e)) and high == pytest.approx(1 / (1 + 1 / math.e))
    for audio in (0.0, 0.01, 0.3, 0.5, 0.9, 1.0):
        p = cues.probability(audio, 0.3, 0.3, FINISHED)
        assert p is not None and low <= p <= high
    flat = ProsodyFeatures(**_PITCH, pitch_jitter=0.2, final_syllable=0.8, release=0.2)
    assert cues.probability_range(0.3, 0.3, flat) == (0.5, 0.5)  # a flat voice: no say
    assert cues.probability_range(None, 0.3, FINISHED) is None


def test_weights_of_the_wrong_size_are_refused() -> None:
    with pytest.raises(ValueError):
        TurnCues(CueWeights((0.0,) * 4, (1.0,) * 4, (1.0,) * 4, 0.0))


def test_the_packaged_model_hears_a_finished_sentence_from_a_pause() -> None:
    # the same words and audio; a long, fading last syllable against a short, cut one
    finished = TURN_CUES.probability(0.9, 0.3, 0.3, FINISHED)
    going_on = TURN_CUES.probability(0.9, 0.3, 0.3, GOING_ON)
    assert finished is not None and going_on is not None
    assert finished > 0.5 > going_on
    # the words count: a sentence rarely ends after "for a"
    dangling = TURN_CUES.probability(0.9, 0.002, 0.01, FINISHED)
    assert dangling is not None and dangling < 0.5 < finished


def test_small_moves_of_the_audio_model_move_the_probability_little() -> None:
    # another build of Smart Turn may give 0.62 where this one gave 0.6
    a = TURN_CUES.probability(0.60, 0.3, 0.3, FINISHED)
    b = TURN_CUES.probability(0.62, 0.3, 0.3, FINISHED)
    assert a is not None and b is not None
    assert abs(a - b) < 0.02
