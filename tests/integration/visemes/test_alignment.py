"""Forced alignment with pocketsphinx against Piper's own phoneme timing."""

from __future__ import annotations

import pytest

from openreplica.plugins.aligner import AlignedTTS, PocketsphinxAligner, viseme_for_arpabet
from openreplica.plugins.base import AudioChunk
from openreplica.plugins.scripted import ScriptedTTS
from openreplica.plugins.tts_piper import PiperTTS
from openreplica.plugins.visemes import VisemeMark, viseme_at

TEXT = (
    "Hello, my name is Eileen. I flew on the space shuttle four times. "
    "Would you like to hear about the view from orbit? It is beautiful."
)
FPS = 25


@pytest.fixture(scope="module")
def piper_chunks() -> list[AudioChunk]:
    import asyncio

    tts = PiperTTS.default(threads=1, noise_scale=0.0, noise_w_scale=0.0)

    async def run() -> list[AudioChunk]:
        return [c async for c in tts.synthesize(TEXT)]

    return asyncio.run(run())


def agreement(
    a: tuple[VisemeMark, ...], b: tuple[VisemeMark, ...], samples: int, rate: int
) -> float:
    """Share of 25 fps frames where `a`'s viseme is `b`'s within one frame."""
    frames = samples * FPS // rate
    hits = 0

    def at(j: int) -> int:
        return round((j + 0.5) * rate / FPS)

    for k in range(frames):
        near = {viseme_at(b, at(j)) for j in (k - 1, k, k + 1) if 0 <= j < frames}
        hits += viseme_at(a, at(k)) in near
    return hits / frames


def test_pocketsphinx_agrees_with_piper_on_most_frames(piper_chunks: list[AudioChunk]) -> None:
    aligner = PocketsphinxAligner()
    sentences = [
        "Hello, my name is Eileen.",
        "I flew on the space shuttle four times.",
        "Would you like to hear about the view from orbit?",
        "It is beautiful.",
    ]
    assert len(piper_chunks) == len(sentences)
    scores = []
    for chunk, sentence in zip(piper_chunks, sentences, strict=True):
        marks = aligner.align(chunk.pcm, chunk.sample_rate, sentence)
        assert marks and marks[0].offset >= 0
        scores.append(agreement(marks, chunk.visemes, chunk.samples, chunk.sample_rate))
    total = sum(scores) / len(scores)
    print(f"pocketsphinx agrees with Piper on {total:.1%} of 25 fps frames (within one)")
    assert total >= 0.7, f"pocketsphinx agrees with Piper on {total:.0%} of frames"


def test_phone_mapping() -> None:
    assert [viseme_for_arpabet(p) for p in ("M", "F", "AA1", "UW", "IY0", "T", "SIL")] == [
        "mbp", "fv", "aa", "oo", "ee", "relaxed", "rest"]  # fmt: skip


async def test_aligned_tts_gives_timing_to_an_engine_without_it(
    piper_chunks: list[AudioChunk],
) -> None:
    class Plain:  # a TTS that only has audio: Piper's, stripped of its visemes
        name = "plain"
        sample_rate = piper_chunks[0].sample_rate

        async def synthesize(self, text: str):  # type: ignore[no-untyped-def]
            pcm = piper_chunks[0].pcm
            half = len(pcm) // 4 * 2
            yield AudioChunk(pcm[:half], self.sample_rate)
            yield AudioChunk(pcm[half:], self.sample_rate)

    tts = AlignedTTS(Plain(), PocketsphinxAligner())
    out = [c async for c in tts.synthesize("Hello, my name is Eileen.")]
    assert len(out) == 1 and out[0].pcm == piper_chunks[0].pcm
    assert "mbp" in [m.viseme for m in out[0].visemes]  # the m of "my" and "name"
    # An engine that times its own phonemes passes straight through.
    timed = AlignedTTS(ScriptedTTS(word_visemes=("aa",)), PocketsphinxAligner())
    chunks = [c async for c in timed.synthesize("la la")]
    assert len(chunks) == 2 and all(c.visemes[0].viseme == "aa" for c in chunks)
