"""Small option groups for building speech plugins (the LLM's are `base.LLMOptions`).

Every field is optional: an engine reads the ones that apply to it and ignores the rest,
so one persona layer can switch engines without reshaping its settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["ASROptions", "TTSOptions", "VADOptions"]


@dataclass(frozen=True, slots=True)
class TTSOptions:
    #: piper: path of a voice `.onnx` (None = the packaged default voice);
    #: espeak: an espeak-ng voice name; openai: the API voice (e.g. "alloy")
    voice: str | None = None
    #: openai: the API model (e.g. "tts-1")
    model: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    #: speaking rate multiplier, 1.0 = the voice's normal speed
    speed: float | None = None
    timeout: float = 30.0
    #: onnxruntime intra-op threads for local synthesis (None = onnxruntime's default, one
    #: spinning thread per core). One: on a 2-core machine shared with the recogniser's
    #: final pass (which holds the GIL), Piper's first words of a reply take ~40 ms of CPU
    #: and ~60 ms of wall with one thread against ~70 / ~100 with the default (load ~4)
    threads: int | None = 1


@dataclass(frozen=True, slots=True)
class ASROptions:
    #: openai: the API model ("whisper-1"); faster-whisper: size name or local path
    model: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    language: str | None = None
    timeout: float = 30.0
    #: pocketsphinx: a JSGF grammar, or a word list turned into one (tests, kiosks)
    grammar: str | None = None
    keywords: tuple[str, ...] | None = None
    #: pocketsphinx: worker processes running the decoders (0 = in the server process,
    #: on the event loop's thread, where its final pass stalls every conversation)
    workers: int = 1


@dataclass(frozen=True, slots=True)
class VADOptions:
    #: webrtc: 0 (permissive) .. 3 (strict)
    aggressiveness: int = 2
    #: silero: onnxruntime intra-op threads
    threads: int = 1
    #: silero: the ONNX model file (None = the one in the `silero-vad` package)
    silero_model: str | None = None
