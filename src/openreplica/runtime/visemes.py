"""Visemes on the playout clock: which mouth shape goes with the audio being played.

TTS chunks carry `VisemeMark`s (offsets into the chunk). `VisemeTrack` lines them up per
(generation, segment) in seconds and, as playout reports each frame played, answers with
the viseme due a little *ahead* of that audio (`lead`): lips move just before the sound
they make. A stopped generation is forgotten at once, so an interrupted face has nothing
left to show and falls back to rest with the audio.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from openreplica.plugins.visemes import Viseme, VisemeMark

__all__ = ["DEFAULT_LEAD_S", "VisemeSink", "VisemeTrack"]

#: lips lead the sound by about a frame at 25 fps
DEFAULT_LEAD_S = 0.04


@runtime_checkable
class VisemeSink(Protocol):
    """Takes the viseme of each audio frame just handed to the audio sink."""

    def write_viseme(self, viseme: Viseme) -> None: ...

    def rest(self) -> None:
        """Playout was stopped (an interrupt): audio already queued shows no shapes."""
        ...


@dataclass(slots=True)
class _Segment:
    """Positions are counted in output-rate samples: exact, unlike summed seconds."""

    starts: list[int] = field(default_factory=list)
    visemes: list[Viseme | None] = field(default_factory=list)
    queued: int = 0  # audio received so far
    played: int = 0
    received: float = 0.0  # seconds of TTS audio received (to place the next chunk)

    def at(self, position: int) -> Viseme | None:
        i = bisect.bisect_right(self.starts, position) - 1
        return self.visemes[i] if i >= 0 else "rest"


class VisemeTrack:
    def __init__(self, output_rate: int, lead: float = DEFAULT_LEAD_S) -> None:
        self._rate = output_rate
        self._lead = round(lead * output_rate)
        self._segments: dict[tuple[int, int], _Segment] = {}

    def add(
        self, gen: int, segment: int, marks: Sequence[VisemeMark], samples: int, rate: int
    ) -> None:
        """A TTS chunk of `samples` at `rate` for (gen, segment), with its marks."""
        seg = self._segments.setdefault((gen, segment), _Segment())
        for mark in marks:
            if seg.visemes and seg.visemes[-1] == mark.viseme:
                continue
            seg.starts.append(round((seg.received + mark.offset / rate) * self._rate))
            seg.visemes.append(mark.viseme)
        if not marks and samples:  # audio with no timing: say nothing about its shape
            seg.starts.append(seg.queued)
            seg.visemes.append(None)
        seg.received += samples / rate
        seg.queued = round(seg.received * self._rate)

    def played(self, gen: int, segment: int, samples: int) -> Viseme | None:
        """`samples` (at the output rate) of (gen, segment) were just played: the viseme
        to show now, or None when this audio came without visemes."""
        seg = self._segments.get((gen, segment))
        if seg is None:
            return None
        # The shape due `lead` after the start of the audio just played.
        viseme = seg.at(min(seg.played + self._lead, seg.queued - 1))
        seg.played += samples
        if seg.played >= seg.queued:
            # Segment done; a later chunk for it (rare) starts a fresh timeline.
            del self._segments[(gen, segment)]
        return viseme

    def stop(self, gen: int) -> None:
        for key in [k for k in self._segments if k[0] == gen]:
            del self._segments[key]
