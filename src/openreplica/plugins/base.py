"""The plugin contracts: narrow interfaces in domain terms.

A plugin never sees engine, runtime or transport types. Each kind has a *model* object
(loaded once, shared across conversations, declares its capabilities) and, where the
model keeps per-conversation state, a *stream* object created per conversation.

Audio crossing these interfaces is always 16-bit little-endian mono PCM in `bytes`,
tagged with its sample rate (`AudioChunk`). Media time is counted in samples by the
caller; plugins do not read any clock.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from openreplica.plugins.visemes import VisemeMark
from openreplica.protocol import ErrorCode

# --------------------------------------------------------------------------- audio


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """A piece of 16-bit little-endian mono PCM.

    `visemes`: the mouth shapes that go with it (offsets into this chunk), when the TTS
    knows its phoneme timing (see `plugins.visemes`); empty otherwise.
    """

    pcm: bytes
    sample_rate: int
    visemes: tuple[VisemeMark, ...] = ()

    @property
    def samples(self) -> int:
        return len(self.pcm) // 2

    @property
    def duration(self) -> float:
        return self.samples / self.sample_rate


class PluginError(Exception):
    """A plugin could not do its work (model missing, server unreachable, timeout).

    `code` is the `system.error` code the conversation reports, e.g. `llm_unavailable`.
    """

    code: str = "plugin_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class LLMUnavailable(PluginError):
    code = ErrorCode.LLM_UNAVAILABLE


class TTSUnavailable(PluginError):
    code = ErrorCode.TTS_UNAVAILABLE


class ASRUnavailable(PluginError):
    code = ErrorCode.ASR_UNAVAILABLE


class PerceptionUnavailable(PluginError):
    code = ErrorCode.PERCEPTION_UNAVAILABLE


# --------------------------------------------------------------------------- VAD


@runtime_checkable
class VADStream(Protocol):
    """Per-conversation voice activity detector over 16 kHz mono PCM."""

    #: how many 16 kHz samples one call to `speech_probability` takes
    frame_samples: int

    def speech_probability(self, frame: bytes) -> float:
        """Probability (0..1) that this frame (exactly `frame_samples` samples) is speech."""
        ...

    def reset(self) -> None: ...


@runtime_checkable
class VADModel(Protocol):
    name: str

    def create_stream(self) -> VADStream: ...


# --------------------------------------------------------------------------- end of turn


class RunStopped(Exception):
    """A model run ended early because its `RunStop` was set."""


class RunStop:
    """Asks a model run under way on another thread to stop: its caller no longer wants
    the answer (the user went on speaking). The model registers how to stop its run
    (`on_stop`, e.g. setting onnxruntime's `RunOptions.terminate`); `stop` calls that at
    once, from any thread, or as soon as it is registered if the stop came first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stopped = False
        self._hooks: list[Callable[[], None]] = []

    @property
    def stopped(self) -> bool:
        return self._stopped

    def on_stop(self, hook: Callable[[], None]) -> None:
        with self._lock:
            if not self._stopped:
                self._hooks.append(hook)
                return
        hook()

    def stop(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            hooks, self._hooks = self._hooks, []
        for hook in hooks:
            hook()


@runtime_checkable
class EndOfTurnModel(Protocol):
    """Scores whether the user's turn sounds finished (Smart Turn v3). CPU-bound and
    synchronous: callers run it in a worker thread. Keeps no per-conversation state."""

    name: str

    def completion_probability(self, pcm16k: bytes, stop: RunStop | None = None) -> float:
        """P(complete) for the turn's 16 kHz mono 16-bit audio, up to the pause. Once
        `stop` is set (from another thread) it may raise `RunStopped` instead."""
        ...

    def sentence_end_probability(self, text: str) -> float | None:
        """P(a sentence ends after the turn's words so far), from a language model
        (microseconds: call it anywhere); None when there is no text model or no word."""
        ...


# --------------------------------------------------------------------------- ASR


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    final: bool


@runtime_checkable
class ASRStream(Protocol):
    """Per-utterance recogniser fed 16 kHz mono PCM while the user talks.

    `push` may return a partial transcript; `finish` returns the final one and makes the
    stream ready for the next utterance. Recognising while the user is still talking is
    what keeps the end-of-turn latency low.
    """

    async def push(self, pcm16k: bytes) -> Transcript | None: ...

    async def finish(self) -> Transcript: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class ASRModel(Protocol):
    name: str
    #: True when `push` returns partial transcripts
    streams_partials: bool
    #: True when `finish` does its work on the event loop's thread, holding the loop and
    #: the GIL meanwhile (PocketSphinx in this process): what a reply started just before
    #: it can't do during it, it must do first (`VoiceSettings.reply_head_start`)
    finish_holds_loop: bool

    def create_stream(self) -> ASRStream: ...


# --------------------------------------------------------------------------- LLM


@dataclass(frozen=True, slots=True)
class ToolCallRequest:
    """The model asked for a tool. `arguments` is a JSON string, as the model wrote it."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of the LLM context (OpenAI chat shape)."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str
    tool_calls: tuple[ToolCallRequest, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


LLMDelta = TextDelta | ToolCallRequest


@dataclass(frozen=True, slots=True)
class LLMOptions:
    """Per-persona LLM settings (`layers.llm`)."""

    model: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    extra_body: Mapping[str, Any] = field(default_factory=dict)
    #: seconds without any streamed data before the call counts as failed
    timeout: float = 20.0


@runtime_checkable
class LLM(Protocol):
    """A chat model that streams text and tool calls.

    Raises `LLMUnavailable` (from the iterator) when the model cannot answer.
    """

    name: str

    def stream(
        self,
        messages: Sequence[ChatMessage],
        tools: Sequence[Mapping[str, Any]] = (),
    ) -> AsyncIterator[LLMDelta]: ...


# --------------------------------------------------------------------------- TTS


@runtime_checkable
class TTS(Protocol):
    """Text to speech. One call per sentence or short segment.

    `synthesize` yields audio at `sample_rate` as soon as it is available; raises
    `TTSUnavailable` on failure.
    """

    name: str
    sample_rate: int

    def synthesize(self, text: str) -> AsyncIterator[AudioChunk]: ...


# --------------------------------------------------------------------------- avatar


@runtime_checkable
class AvatarStream(Protocol):
    """Per-conversation renderer state (blinks, head motion)."""

    width: int
    height: int

    def render(self, t: float, mouth_open: float) -> Any:
        """An RGB frame (numpy uint8 array, height x width x 3) at media time `t` seconds.

        `mouth_open` is 0 (closed) .. 1 (wide), derived by the caller from the audio
        being played in that frame.
        """
        ...


@runtime_checkable
class Avatar(Protocol):
    replica_id: str
    name: str

    def create_stream(self, width: int, height: int, seed: int = 0) -> AvatarStream: ...
