"""The perception engine contract: one narrow, synchronous interface.

An engine is per conversation (it keeps that conversation's running statistics). The
runtime calls it from one worker thread, one call at a time, never from the event loop,
so an engine may block (a detector, an HTTP request) without delaying speech. Images are
RGB uint8 numpy arrays (height x width x 3), oldest first. A failure raises
`PerceptionUnavailable` (any other exception is treated the same way).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from openreplica.plugins.base import PerceptionUnavailable
from openreplica.plugins.perception.config import PerceptionConfig

__all__ = [
    "AudioToolCall",
    "Image",
    "Observation",
    "PerceptionEngine",
    "PerceptionUnavailable",
    "SpeechFeatures",
    "VisionToolCall",
]

Image = NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class VisionToolCall:
    """A visual tool applies: `arguments` is an object (SPEC §1.2, vision)."""

    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AudioToolCall:
    """An audio tool applies: `arguments` is a JSON string (SPEC §1.2, audio)."""

    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Observation:
    """What one look at the camera found."""

    #: a short description for the LLM ("One person is in view, …"); "" = nothing to say
    visual_context: str
    tool_calls: tuple[VisionToolCall, ...] = ()
    #: engine-specific facts (faces, lighting…), for logs and tests
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SpeechFeatures:
    """What is known about how the user said their turn (not just the words)."""

    #: seconds of user speech in the turn (VAD); 0 when the turn was typed
    duration: float = 0.0
    #: how many speech segments (pauses split a turn into several)
    segments: int = 0
    #: the turn came from `conversation.respond` (typed), not the microphone
    typed: bool = False

    def words_per_second(self, transcript: str) -> float:
        words = len(transcript.split())
        return words / self.duration if self.duration > 0 else 0.0


@runtime_checkable
class PerceptionEngine(Protocol):
    name: str
    config: PerceptionConfig

    def observe(self, images: Sequence[Image], at: float) -> Observation:
        """Look at the most recent frames (taken up to clock time `at`)."""
        ...

    def audio_tools(self, transcript: str, speech: SpeechFeatures) -> list[AudioToolCall]:
        """Which audio tools apply to the user's finished turn (often none)."""
        ...

    def analysis(self) -> str:
        """The end-of-call analysis (`conversation.perception_analysis`)."""
        ...

    def close(self) -> None: ...
