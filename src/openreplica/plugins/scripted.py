"""Scripted in-memory plugins for tests: deterministic, instant, and they record calls.

None of them reads a clock; `ScriptedLLM` and `ScriptedTTS` take an injected async
`sleep` (e.g. a virtual clock's) when a test wants them to take media time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from openreplica.plugins.audio import rms, tone
from openreplica.plugins.base import (
    AudioChunk,
    ChatMessage,
    LLMDelta,
    LLMUnavailable,
    TextDelta,
    Transcript,
)
from openreplica.plugins.visemes import Viseme, VisemeMark

__all__ = [
    "LLMCall",
    "ScriptedASR",
    "ScriptedASRStream",
    "ScriptedLLM",
    "ScriptedTTS",
    "ScriptedVAD",
    "ScriptedVADStream",
    "text_deltas",
]

Sleep = Callable[[float], Awaitable[None]]
#: one LLM reply: deltas to stream, where an exception item is raised at that point
Script = Sequence[LLMDelta | BaseException] | BaseException


def text_deltas(text: str) -> list[LLMDelta]:
    """Split a reply into word tokens the way LLMs stream them ("Hello", " there.")."""
    words = text.split(" ")
    return [TextDelta(w if i == 0 else " " + w) for i, w in enumerate(words) if w or i == 0]


@dataclass(frozen=True)
class LLMCall:
    messages: tuple[ChatMessage, ...]
    tools: tuple[Mapping[str, Any], ...]


class ScriptedLLM:
    """Plays one script per `stream` call, in order; records what it was asked."""

    name = "scripted"

    def __init__(
        self,
        scripts: Sequence[Script],
        *,
        delay: float = 0.0,
        sleep: Sleep | None = None,
    ) -> None:
        self._scripts = list(scripts)
        self.delay = delay
        self._sleep = sleep
        self.calls: list[LLMCall] = []

    @classmethod
    def replies(cls, *texts: str, **kw: Any) -> ScriptedLLM:
        """One plain-text reply per call, streamed word by word."""
        return cls([text_deltas(t) for t in texts], **kw)

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        tools: Sequence[Mapping[str, Any]] = (),
    ) -> AsyncIterator[LLMDelta]:
        self.calls.append(LLMCall(tuple(messages), tuple(tools)))
        if not self._scripts:
            raise LLMUnavailable("scripted LLM: no script left for this call")
        script = self._scripts.pop(0)
        if isinstance(script, BaseException):
            raise script
        for item in script:
            if self._sleep is not None and self.delay > 0:
                await self._sleep(self.delay)
            if isinstance(item, BaseException):
                raise item
            yield item


class ScriptedTTS:
    """`ms_per_word` of a sine tone per word, one chunk per word; records texts.

    Set `fail` to make the next calls raise it (e.g. a `TTSUnavailable`).
    """

    name = "scripted"

    def __init__(
        self,
        sample_rate: int = 16000,
        ms_per_word: int = 200,
        frequency: float = 220.0,
        *,
        sleep: Sleep | None = None,
        word_visemes: Sequence[Viseme] = (),
    ) -> None:
        self.sample_rate = sample_rate
        #: each word's audio is split evenly between these visemes (none: no visemes)
        self.word_visemes = tuple(word_visemes)
        self.ms_per_word = ms_per_word
        self.frequency = frequency
        self._sleep = sleep
        self.texts: list[str] = []
        self.fail: BaseException | None = None

    def samples_for(self, text: str) -> int:
        """How many samples `synthesize(text)` yields in total."""
        per_word = self.sample_rate * self.ms_per_word // 1000
        return per_word * len(text.split())

    async def synthesize(self, text: str) -> AsyncIterator[AudioChunk]:
        self.texts.append(text)
        if self.fail is not None:
            raise self.fail
        word_pcm = tone(self.frequency, self.ms_per_word / 1000, self.sample_rate)
        step = len(word_pcm) // 2 // max(1, len(self.word_visemes))
        marks = tuple(VisemeMark(i * step, v) for i, v in enumerate(self.word_visemes))
        for _ in text.split():
            if self._sleep is not None:
                await self._sleep(self.ms_per_word / 1000)
            yield AudioChunk(word_pcm, self.sample_rate, marks)


def _loud_is_speech(level: float) -> float:
    return 1.0 if level >= 0.02 else 0.0


@dataclass
class ScriptedVADStream:
    probability: Callable[[float], float]
    frame_samples: int
    frames: int = 0

    def speech_probability(self, frame: bytes) -> float:
        if len(frame) != 2 * self.frame_samples:
            raise ValueError(f"expected {self.frame_samples} samples, got {len(frame) // 2}")
        self.frames += 1
        return self.probability(rms(frame))

    def reset(self) -> None:
        self.frames = 0


class ScriptedVAD:
    """Speech probability as a function of the frame's RMS (default: RMS >= 0.02)."""

    name = "scripted"

    def __init__(
        self,
        probability: Callable[[float], float] = _loud_is_speech,
        frame_samples: int = 320,
    ) -> None:
        self.probability = probability
        self.frame_samples = frame_samples
        self.streams: list[ScriptedVADStream] = []

    def create_stream(self) -> ScriptedVADStream:
        stream = ScriptedVADStream(self.probability, self.frame_samples)
        self.streams.append(stream)
        return stream


@dataclass
class ScriptedASRStream:
    model: ScriptedASR
    pushed_samples: int = 0
    _pushes: int = 0
    _last: str = ""
    closed: bool = field(default=False)

    async def push(self, pcm16k: bytes) -> Transcript | None:
        self.pushed_samples += len(pcm16k) // 2
        self._pushes += 1
        if not self.model.streams_partials:
            return None
        # Partials reveal one more word of the coming transcript per push.
        words = self.model.peek().split()
        partial = " ".join(words[: self._pushes])
        if partial == self._last:
            return None
        self._last = partial
        return Transcript(partial, final=False)

    async def finish(self) -> Transcript:
        self._pushes = 0
        self._last = ""
        return Transcript(self.model.next_transcript(), final=True)

    async def aclose(self) -> None:
        self.closed = True


class ScriptedASR:
    """Each `finish` returns the next preset transcript ("" once they run out)."""

    name = "scripted"
    finish_holds_loop = False

    def __init__(self, transcripts: Sequence[str], *, partials: bool = False) -> None:
        self._transcripts = list(transcripts)
        self.streams_partials = partials
        self.streams: list[ScriptedASRStream] = []

    def peek(self) -> str:
        return self._transcripts[0] if self._transcripts else ""

    def next_transcript(self) -> str:
        return self._transcripts.pop(0) if self._transcripts else ""

    def create_stream(self) -> ScriptedASRStream:
        stream = ScriptedASRStream(self)
        self.streams.append(stream)
        return stream
