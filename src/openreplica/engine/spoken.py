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
    """Every per-frame query is O(1) in the length of the utterance (a long echo or a
    streamed audio echo must not make each played frame cost more): totals are kept as
    running counts, and the words of segments heard in full are kept aside."""

    segments: dict[int, Segment] = field(default_factory=dict)
    _samples: int = 0
    _played: int = 0
    #: words of the leading segments that are heard in full and can no longer change
    _settled_words: list[str] = field(default_factory=list)
    #: the first segment not settled yet
    _open: int = 0

    def add_segment(self, segment: int, text: str) -> None:
        self.segments[segment] = Segment.of(text)

    def add_audio(self, segment: int, samples: int) -> None:
        self.segments[segment].samples += samples
        self._samples += samples

    def audio_done(self, segment: int) -> None:
        self.segments[segment].audio_done = True

    def played(self, segment: int, samples: int) -> None:
        seg = self.segments[segment]
        before = seg.played
        seg.played = min(seg.samples, seg.played + samples)
        self._played += seg.played - before

    @property
    def played_samples(self) -> int:
        return self._played

    @property
    def queued_samples(self) -> int:
        return self._samples - self._played

    def heard_count(self) -> int:
        """How many words have been heard (cheap: no list is built)."""
        count = len(self._settled_words)
        for seg in self._unsettled():
            heard = seg.heard_words()
            count += heard
            if heard < len(seg.words):
                break
        return count

    def heard_words(self) -> list[str]:
        words = list(self._settled_words)
        for seg in self._unsettled():
            heard = seg.heard_words()
            words.extend(seg.words[:heard])
            if heard < len(seg.words):
                break  # later segments cannot have been heard before this one finished
        return words

    def _unsettled(self) -> list[Segment]:
        """Settle the segments that are complete and played, then return the rest that
        may have been heard, in order (a short list: the segments being played)."""
        while (seg := self.segments.get(self._open)) is not None and (
            seg.audio_done and seg.played >= seg.samples
        ):
            self._settled_words.extend(seg.words)
            self._open += 1
        rest: list[Segment] = []
        index = self._open
        while (seg := self.segments.get(index)) is not None:
            rest.append(seg)
            if seg.heard_words() < len(seg.words):
                break
            index += 1
        return rest
