"""Heard-text accounting for one replica utterance.

An utterance is spoken as segments (sentences), each with its text and its audio. As
audio is played, words count as heard in proportion to the audio: each word owns a span
of its segment's samples weighted by its length, and it is heard once playout passes the
middle of its span. So captions advance word by word with the voice, and an interrupted
utterance keeps exactly the words the user heard.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Segment:
    text: str
    words: list[str]
    #: fraction (0..1] of the segment's audio at the middle of each word
    word_midpoints: list[float]
    samples: int = 0
    played: int = 0
    audio_done: bool = False

    @classmethod
    def of(cls, text: str) -> Segment:
        words = text.split()
        weights = [len(w) + 1 for w in words]
        total = sum(weights) or 1
        midpoints, start = [], 0
        for weight in weights:
            midpoints.append((start + weight / 2) / total)
            start += weight
        return cls(text=text, words=words, word_midpoints=midpoints)

    def heard_words(self) -> int:
        if self.audio_done and self.played >= self.samples:
            return len(self.words)
        if self.samples == 0:
            return 0
        fraction = self.played / self.samples
        return sum(1 for m in self.word_midpoints if m <= fraction)


@dataclass(slots=True)
class SpokenText:
    segments: dict[int, Segment] = field(default_factory=dict)

    def add_segment(self, segment: int, text: str) -> None:
        self.segments[segment] = Segment.of(text)

    def add_audio(self, segment: int, samples: int) -> None:
        self.segments[segment].samples += samples

    def audio_done(self, segment: int) -> None:
        self.segments[segment].audio_done = True

    def played(self, segment: int, samples: int) -> None:
        seg = self.segments[segment]
        seg.played = min(seg.samples, seg.played + samples)

    @property
    def played_samples(self) -> int:
        return sum(s.played for s in self.segments.values())

    @property
    def queued_samples(self) -> int:
        return sum(s.samples - s.played for s in self.segments.values())

    @property
    def all_audio_done(self) -> bool:
        return all(s.audio_done for s in self.segments.values())

    def heard_words(self) -> list[str]:
        words: list[str] = []
        for index in sorted(self.segments):
            seg = self.segments[index]
            count = seg.heard_words()
            words.extend(seg.words[:count])
            if count < len(seg.words):
                break  # later segments cannot have been heard before this one finished
        return words
