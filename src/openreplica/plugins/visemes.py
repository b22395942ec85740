"""Visemes: the mouth shapes speech is drawn with, and when each one is due.

Seven shapes are enough for a face at video-call size: `rest` (silence), `mbp` (lips
pressed: m, b, p), `fv` (lower lip under the teeth), `aa` (open: a), `oo` (rounded: o, u,
w, sh), `ee` (spread: e, i, s) and `relaxed` (slightly apart: most other consonants and
schwa). A TTS plugin that knows its phoneme timing attaches `VisemeMark`s to each audio
chunk (sample offsets into that chunk); the runtime plays them with the audio.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

__all__ = [
    "OPENNESS",
    "VISEMES",
    "Viseme",
    "VisemeMark",
    "frame_agreement",
    "viseme_at",
    "viseme_for_phoneme",
    "visemes_from_alignment",
]

Viseme = Literal["rest", "mbp", "fv", "aa", "oo", "ee", "relaxed"]
VISEMES: tuple[Viseme, ...] = get_args(Viseme)

#: how far the jaw opens for each viseme, 0..1 (what a mouth-open-only face draws)
OPENNESS: dict[Viseme, float] = {
    "rest": 0.0,
    "mbp": 0.0,
    "fv": 0.12,
    "aa": 1.0,
    "oo": 0.45,
    "ee": 0.4,
    "relaxed": 0.3,
}


@dataclass(frozen=True, slots=True)
class VisemeMark:
    """From `offset` (samples into the audio chunk it travels with) this viseme shows."""

    offset: int
    viseme: Viseme


# espeak-ng IPA (what Piper speaks) to visemes; anything unlisted is `relaxed`.
_PHONEMES: dict[str, Viseme] = {
    **dict.fromkeys("mbpɱ", "mbp"),
    **dict.fromkeys("fv", "fv"),
    **dict.fromkeys("aɑæʌɐɒ", "aa"),
    **dict.fromkeys("uʊoɔwʃʒ", "oo"),
    **dict.fromkeys("iɪeɛjszɨ", "ee"),
    **dict.fromkeys("^$.,;:!?—…\"'«»¡¿", "rest"),
}
#: stress marks belong to the phoneme after them, length marks to the one before
_STRESS = frozenset("ˈˌ")
_LENGTH = frozenset("ːˑ")
#: a pause between words this long (seconds) is rest, shorter ones keep the lips apart
_PAUSE_S = 0.1


def viseme_for_phoneme(phoneme: str) -> Viseme:
    return _PHONEMES.get(phoneme[:1], "relaxed") if phoneme else "rest"


def visemes_from_alignment(
    phonemes: Sequence[str], samples: Sequence[int], sample_rate: int
) -> tuple[VisemeMark, ...]:
    """Marks from per-phoneme sample counts (Piper's alignments: they sum to the audio).

    Neighbouring phonemes with the same viseme merge into one mark.
    """
    if len(phonemes) != len(samples):
        raise ValueError(f"{len(phonemes)} phonemes but {len(samples)} durations")
    labels: list[Viseme | None] = []
    for i, (ph, n) in enumerate(zip(phonemes, samples, strict=True)):
        if ph in _STRESS or ph in _LENGTH:
            labels.append(None)  # filled from a neighbour below
        elif ph.isspace():
            pause = n >= _PAUSE_S * sample_rate or _next_is_rest(phonemes, i)
            labels.append("rest" if pause else "relaxed")
        else:
            labels.append(viseme_for_phoneme(ph))
    for i, ph in enumerate(phonemes):
        if labels[i] is None and ph in _LENGTH:
            labels[i] = labels[i - 1] if i > 0 else "relaxed"
    for i in range(len(labels) - 1, -1, -1):  # stress: from the next phoneme, backwards
        if labels[i] is None:
            labels[i] = labels[i + 1] if i + 1 < len(labels) else "relaxed"
    marks: list[VisemeMark] = []
    offset = 0
    for label, n in zip(labels, samples, strict=True):
        assert label is not None
        if n > 0 and (not marks or marks[-1].viseme != label):
            marks.append(VisemeMark(offset, label))
        offset += int(n)
    return tuple(marks)


def _next_is_rest(phonemes: Sequence[str], i: int) -> bool:
    nxt = phonemes[i + 1] if i + 1 < len(phonemes) else "$"
    prev = phonemes[i - 1] if i > 0 else "^"
    return viseme_for_phoneme(nxt) == "rest" or viseme_for_phoneme(prev) == "rest"


def viseme_at(marks: Iterable[VisemeMark], offset: int) -> Viseme:
    """The viseme showing `offset` samples into the marks' audio (`rest` before any)."""
    current: Viseme = "rest"
    for mark in marks:
        if mark.offset > offset:
            break
        current = mark.viseme
    return current


def frame_agreement(
    a: Sequence[VisemeMark],
    b: Sequence[VisemeMark],
    samples: int,
    rate: int,
    *,
    within: int = 1,
    fps: int = 25,
) -> tuple[int, int]:
    """How far two viseme tracks of the same `samples` of audio at `rate` agree as a face
    shows them: (video frames at `fps` whose viseme in `a` is `b`'s within `within`
    frames, frames)."""
    frames = samples * fps // rate

    def at(j: int) -> int:
        return round((j + 0.5) * rate / fps)

    hits = 0
    for k in range(frames):
        near = {viseme_at(b, at(j)) for j in range(k - within, k + within + 1) if 0 <= j < frames}
        hits += viseme_at(a, at(k)) in near
    return hits, frames
