"""A synthetic speech set for turn-taking, made at run time: complete questions and
statements, and hesitant utterances with a 400-900 ms pause in mid-sentence. The small
set is 6 of each per voice; the larger one 40 of each, split into a tuning half (where
thresholds such as `TEXT_END_MIN` were chosen) and a held-out half (where they are judged).

Two voices: Piper (joe, medium) and espeak-ng. A hesitant utterance is one sentence,
synthesised whole so that its prosody runs on through the pause, then cut after a word
and given a pause: the cut point is where the sentence's first words end (found by
synthesising them alone, which lengthens their last syllable, so the boundary inside the
sentence comes a little earlier) moved to the quietest 10 ms just before it.
"""

from __future__ import annotations

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

#: the larger set (`speech_set(..., larger=True)`): 34 more of each, written for it.
#: Even positions tune thresholds, odd ones are held out (`held_out`).
MORE_COMPLETE = (
    "Where is the nearest train station?",
    "I need a taxi to the airport.",
    "What time does the museum open?",
    "Please turn off the lights in the kitchen.",
    "How much does this jacket cost?",
    "I think it is going to rain later.",
    "Can you play some music?",
    "Thank you very much for your help.",
    "What did you have for breakfast?",
    "The train leaves at seven in the morning.",
    "Do you know a good doctor?",
    "I lost my keys again.",
    "Set an alarm for six thirty.",
    "Who won the game last night?",
    "She works at the hospital downtown.",
    "Send a message to my brother.",
    "Is the restaurant open on Sunday?",
    "We are going to the beach this weekend.",
    "What is your favourite movie?",
    "I would like to change my password.",
    "How do I get to the library?",
    "The children are playing in the garden.",
    "Can you recommend a good book?",
    "It was a really long day at work.",
    "Add milk and eggs to my shopping list.",
    "When does the store close?",
    "I am allergic to peanuts.",
    "What is the capital of France?",
    "Let me know when you are ready.",
    "My flight was delayed by two hours.",
    "Could you speak a little slower?",
    "He bought a new car last month.",
    "How many people live in Tokyo?",
    "I want to learn how to cook.",
)

MORE_HESITANT = (
    ("I need to pick up my sister from school.", "I need to pick up my", 0.5),
    ("Can you find me a cheap hotel in Paris?", "Can you find me a", 0.7),
    ("The meeting has been moved to Thursday afternoon.", "The meeting has been moved", 0.6),
    ("I was thinking we could go to the cinema.", "I was thinking we could", 0.8),
    ("What is the best way to learn Spanish?", "What is the best way to", 0.45),
    ("My brother and his wife are visiting next week.", "My brother and", 0.65),
    ("Please send the report to the whole team.", "Please send the report to", 0.9),
    ("I would like a large pizza with extra cheese.", "I would like a large", 0.55),
    ("Tell me how to get to the nearest pharmacy.", "Tell me how to get to the", 0.75),
    ("We went to the market and bought some apples.", "We went to the market and", 0.5),
    ("Could you check if the package has arrived?", "Could you check if the", 0.85),
    ("I have been feeling tired all week.", "I have been feeling", 0.6),
    ("The problem is that nobody answered the phone.", "The problem is that", 0.7),
    ("Do you think it will be sunny tomorrow?", "Do you think it will", 0.4),
    ("She said that the office would be closed.", "She said that the", 0.65),
    ("I want to order something for dinner.", "I want to order something", 0.8),
    ("Can you help me write a letter to my landlord?", "Can you help me write a", 0.5),
    ("It depends on how much time we have left.", "It depends on", 0.75),
    ("I usually go running in the morning before work.", "I usually go running in the", 0.6),
    ("What would happen if we missed the last bus?", "What would happen if", 0.9),
    ("My phone keeps turning off for no reason.", "My phone keeps", 0.55),
    ("Let us meet at the cafe near the station.", "Let us meet at the", 0.45),
    ("I forgot to buy bread on the way home.", "I forgot to buy", 0.7),
    ("Could you explain why the sky is blue?", "Could you explain why", 0.6),
    ("The doctor told me to drink more water.", "The doctor told me to", 0.8),
    ("We need to finish the project by Friday.", "We need to finish the", 0.5),
    ("I am not sure whether I can come tonight.", "I am not sure whether", 0.65),
    ("Book me a flight from Berlin to Madrid.", "Book me a flight from", 0.75),
    ("He is the one who fixed my computer.", "He is the one who", 0.55),
    ("Remind me to water the plants on Saturday.", "Remind me to water the", 0.85),
    ("There is a problem with my internet connection.", "There is a problem with", 0.6),
    ("I would rather stay home and read a book.", "I would rather", 0.7),
    ("Can you turn the volume down a little?", "Can you turn the", 0.4),
    ("The best part of the trip was the food.", "The best part of the trip was", 0.9),
)


def held_out(index: int) -> bool:
    """Is the `index`-th sentence of its list (COMPLETE + MORE_COMPLETE, or HESITANT +
    MORE_HESITANT) in the held-out half? Thresholds are tuned on the other half only."""
    return index % 2 == 1


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
    #: in the held-out half of the set (never used to tune a threshold)
    held_out: bool = False

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


async def complete(tts: TTS, voice: str, text: str, seed: int = 1, held: bool = False) -> Utterance:
    speech = _trim(pcm16_to_float(await synthesize(tts, text)))
    lead, tail = 0.5, 2.0
    pcm = float_to_pcm16(_pad(speech, lead, tail, seed))
    return Utterance(text, voice, pcm, lead, lead + len(speech) / RATE, held_out=held)


async def hesitant(
    tts: TTS, voice: str, text: str, prefix: str, pause: float, seed: int = 1, held: bool = False
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
        held,
    )


async def speech_set(
    voices: dict[str, TTS], larger: bool = False, held_out_only: bool = False
) -> list[Utterance]:
    """Every sentence in every voice: complete ones first, then hesitant ones. `larger`:
    40 of each per voice instead of 6; `held_out_only`: only the held-out half."""
    complete_texts = COMPLETE + (MORE_COMPLETE if larger else ())
    hesitant_items = HESITANT + (MORE_HESITANT if larger else ())
    out: list[Utterance] = []
    for seed, (voice, tts) in enumerate(voices.items(), start=1):
        for i, text in enumerate(complete_texts):
            if held_out(i) or not held_out_only:
                out.append(await complete(tts, voice, text, seed, held_out(i)))
    for seed, (voice, tts) in enumerate(voices.items(), start=1):
        for i, (text, prefix, pause) in enumerate(hesitant_items):
            if held_out(i) or not held_out_only:
                out.append(await hesitant(tts, voice, text, prefix, pause, seed, held_out(i)))
    return out
