"""Piper's own phoneme alignments become visemes that travel with each sentence's audio."""

from __future__ import annotations

import pytest

from openreplica.plugins.tts_piper import PiperTTS
from openreplica.plugins.visemes import viseme_at


@pytest.fixture(scope="module")
def piper() -> PiperTTS:
    tts = PiperTTS.default(threads=1, noise_scale=0.0, noise_w_scale=0.0)
    tts.load()
    return tts


async def test_piper_durations_sum_to_the_audio_and_lips_close_for_b_and_m(
    piper: PiperTTS,
) -> None:
    from piper.config import SynthesisConfig

    voice = piper.load()
    text = "Bob made a big map. You see?"
    raw = list(voice.synthesize(text, SynthesisConfig(noise_scale=0, noise_w_scale=0), True))
    assert raw, "no audio"
    for c in raw:
        assert c.phoneme_alignments, "no alignments: is the onnx package installed?"
        assert sum(int(a.num_samples) for a in c.phoneme_alignments) == len(c.audio_int16_array)

    chunks = [c async for c in piper.synthesize(text)]
    assert len(chunks) == 2
    for chunk in chunks:
        offsets = [m.offset for m in chunk.visemes]
        assert offsets[0] == 0 and offsets == sorted(offsets) and offsets[-1] < chunk.samples
        assert chunk.visemes[0].viseme == "rest"
    first = [m.viseme for m in chunks[0].visemes]
    # "Bob made a big map": b, b, m, b, m, p: the lips close six times.
    assert first.count("mbp") == 6 and "aa" in first
    # The end of the sentence is silent: the face rests there.
    assert viseme_at(chunks[0].visemes, chunks[0].samples - 1) == "rest"
