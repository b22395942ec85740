"""A synthetic speech set for turn-taking, made at run time: complete questions and
statements, and hesitant utterances with a 400-900 ms pause in mid-sentence.

Two voices: Piper (joe, medium) and espeak-ng. A hesitant utterance is one sentence,
synthesised whole so that its prosody runs on through the pause, then cut after a word
and given a pause: the cut point is where the sentence's first words end (found by
synthesising them alone, which lengthens their last syllable, so the boundary inside the
sentence comes a little earlier) moved to the quietest 10 ms just before it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np

from openreplica.plugins.audio import float_to_pcm16, pcm16_to_float, resample
from openreplica.plugins.base import TTS

RATE = 16000

COMPLETE = (
    "What is the weather like in London today?",
    "Can you book a table for two tonight?",
    "I would like a cup of coffee please.",
    "Tell me a story about a dragon.",
    "My name is Sam and I live in Boston.",
    "How far away is the moon?",
)

#: (sentence, the words before the pause, pause in seconds)
HESITANT = (
    ("I would like to book a table for two tonight.", "I would like to book", 0.4),
    ("Can you tell me about the history of Rome?", "Can you tell me about the", 0.55),
    ("My favourite colour is a deep shade of blue.", "My favourite colour is", 0.7),
    ("I am looking for a good place to eat near here.", "I am looking for a", 0.9),
    ("Could you remind me to call my mother tomorrow?", "Could you remind me to", 0.6),
    ("We should probably leave before it gets dark.", "We should probably", 0.8),
)


@dataclass(frozen=True)
class Utterance:
    """16 kHz mono speech padded with low noise, and where its sounds are."""

    text: str
    voice: str
    pcm: bytes
    start: float  # first audible sample (s)
    end: float  # last audible sample (s)
    #: hesitant ones: the mid-sentence pause (first silent, last silent sample)
    pause: tuple[float, float] | None = None

    @property
    def hesitant(self) -> bool:
        return self.pause is not None


async def synthesize(tts: TTS, text: str) -> bytes:
    pcm = b"".join([c.pcm async for c in tts.synthesize(text)])
    return resample(pcm, tts.sample_rate, RATE)


def _audible(x: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.abs(x) > 0.02)


def _trim(x: np.ndarray) -> np.ndarray:
    idx = _audible(x)
    return x[idx[0] : idx[-1] + 1]


def _cut_point(whole: np.ndarray, prefix_len: int) -> int:
    """The end of the quietest 10 ms from 150 ms before to 10 ms after where the prefix
    ends (never into the next word's onset)."""
    win = RATE // 100
    lo = max(win, prefix_len - 3 * RATE // 20)
    hi = min(len(whole) - win, prefix_len + win)
    energies = [(float(np.mean(whole[i - win : i] ** 2)), i) for i in range(lo, hi, win // 2)]
    return min(energies)[1]


def _pad(speech: np.ndarray, lead: float, tail: float, seed: int) -> np.ndarray:
    noise_free = np.concatenate(
        [np.zeros(round(lead * RATE)), speech, np.zeros(round(tail * RATE))]
    )
    return noise_free + np.random.default_rng(seed).normal(0.0, 0.003, noise_free.size)


async def complete(tts: TTS, voice: str, text: str, seed: int = 1) -> Utterance:
    speech = _trim(pcm16_to_float(await synthesize(tts, text)))
    lead, tail = 0.5, 2.0
    return Utterance(
        text, voice, float_to_pcm16(_pad(speech, lead, tail, seed)), lead, lead + len(speech) / RATE
    )


async def hesitant(
    tts: TTS, voice: str, text: str, prefix: str, pause: float, seed: int = 1
) -> Utterance:
    whole = _trim(pcm16_to_float(await synthesize(tts, text)))
    first = _trim(pcm16_to_float(await synthesize(tts, prefix)))
    cut = _cut_point(whole, len(first))
    head, rest = whole[:cut], whole[cut:]
    head, rest = _trim(head), _trim(rest)
    gap = np.zeros(round(pause * RATE))
    speech = np.concatenate([head, gap, rest])
    lead, tail = 0.5, 2.5
    pause_start = lead + len(head) / RATE
    return Utterance(
        text,
        voice,
        float_to_pcm16(_pad(speech, lead, tail, seed)),
        lead,
        lead + len(speech) / RATE,
        (pause_start, pause_start + pause),
    )


async def speech_set(voices: dict[str, TTS]) -> list[Utterance]:
    """Every sentence in every voice: complete ones first, then hesitant ones."""
    out: list[Utterance] = []
    for seed, (voice, tts) in enumerate(voices.items(), start=1):
        out += [await complete(tts, voice, text, seed) for text in COMPLETE]
    for seed, (voice, tts) in enumerate(voices.items(), start=1):
        out += [await hesitant(tts, voice, *item, seed=seed) for item in HESITANT]
    return out


def build(voices: dict[str, TTS]) -> list[Utterance]:
    return asyncio.run(speech_set(voices))
