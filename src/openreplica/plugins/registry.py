"""Engine names -> plugin instances, with heavy models cached in a caller-owned object.

The public API names engines we do not implement ("cartesia", "elevenlabs",
"tavus-advanced"…). Those fall back to the default engine and the factory returns a
warning for the caller to log: a persona written for another service still talks.

How a persona picks its engines (the server maps persona layers onto these calls):

- `layers.stt.stt_engine` -> `build_asr`: `pocketsphinx` (default), `openai`,
  `faster-whisper`;
- `layers.tts.tts_engine` -> `build_tts`: `piper` (default), `espeak`, `openai`;
- the server's `vad_engine` setting or `layers.stt.vad_engine` -> `build_vad`: `auto`
  (default: Silero when its model is installed, else webrtcvad), `silero`, `webrtc`;
- `layers.llm` -> `build_llm`: `openai` (any OpenAI-compatible server) or `llama` (a local
  GGUF); the server decides which from the persona and its own settings.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TypeVar

from openreplica.plugins.base import LLM, TTS, ASRModel, LLMOptions, VADModel
from openreplica.plugins.openai_http import base_url_or_default
from openreplica.plugins.options import ASROptions, TTSOptions, VADOptions

__all__ = [
    "ASR_ENGINES",
    "LLM_ENGINES",
    "TTS_ENGINES",
    "VAD_ENGINES",
    "ModelCache",
    "build_asr",
    "build_llm",
    "build_tts",
    "build_vad",
    "resolve_engine",
    "resolve_vad",
]

T = TypeVar("T")

TTS_ENGINES = ("piper", "espeak", "openai")
ASR_ENGINES = ("pocketsphinx", "openai", "faster-whisper")
VAD_ENGINES = ("auto", "silero", "webrtc")
LLM_ENGINES = ("openai", "llama")

#: other spellings of the engines above (a persona's `tts_engine`, `stt_engine`…)
_ALIASES = {
    "espeak-ng": "espeak",
    "faster_whisper": "faster-whisper",
    "whisper": "faster-whisper",
    "openai-compatible": "openai",
    "llama.cpp": "llama",
    "llama-cpp": "llama",
    "webrtcvad": "webrtc",
}


class ModelCache:
    """Loaded models shared by all conversations of one process (one Piper voice,
    one silero session…). Owned and passed in by the caller; never a module global.
    """

    def __init__(self) -> None:
        self._items: dict[Hashable, object] = {}

    def get(self, key: Hashable, factory: Callable[[], T]) -> T:
        if key not in self._items:
            self._items[key] = factory()
        item = self._items[key]
        return item  # type: ignore[return-value]

    def __len__(self) -> int:
        return len(self._items)

    async def aclose(self) -> None:
        """Close cached objects that hold connections (HTTP clients)."""
        items, self._items = list(self._items.values()), {}
        for item in items:
            close = getattr(item, "aclose", None)
            if close is not None:
                await close()


def resolve_engine(
    kind: str, name: object, known: tuple[str, ...], default: str | None
) -> tuple[str | None, str | None]:
    """(engine, warning): `name` (any spelling in `_ALIASES`) when it is one of `known`,
    else `default` and a warning saying so. None and "" mean the default, silently."""
    if name is None or name == "":
        return default, None
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key in known:
        return key, None
    fallback = default or known[0]
    return default, f"unknown {kind} engine {name!r}: using {fallback!r} instead"


def _resolve(kind: str, engine: str | None, known: tuple[str, ...]) -> tuple[str, str | None]:
    """(engine to use, warning or None), falling back to the first of `known`."""
    name, warning = resolve_engine(kind, engine, known, known[0])
    return name or known[0], warning


def build_tts(engine: str | None, options: TTSOptions, cache: ModelCache) -> tuple[TTS, str | None]:
    name, warning = _resolve("TTS", engine, TTS_ENGINES)
    if name == "espeak":
        from openreplica.plugins.aligner import AlignedTTS, PocketsphinxAligner
        from openreplica.plugins.tts_espeak import EspeakTTS

        speed = round(175 * options.speed) if options.speed else 175
        # espeak-ng says a sentence in one go and has no phoneme timing of its own:
        # forced alignment gives its lips visemes (one aligner per process).
        aligner = cache.get(("aligner", "pocketsphinx"), PocketsphinxAligner)
        espeak = EspeakTTS(voice=options.voice or "en-us", speed=speed)
        return AlignedTTS(espeak, aligner), warning
    if name == "openai":
        from openreplica.plugins.tts_openai import OpenAICompatibleTTS

        tts = OpenAICompatibleTTS(
            base_url_or_default(options.base_url),
            api_key=options.api_key,
            model=options.model or "tts-1",
            voice=options.voice or "alloy",
            speed=options.speed,
            headers=options.headers,
            timeout=options.timeout,
        )
        return tts, warning
    from openreplica.plugins.tts_piper import PiperTTS

    length_scale = 1 / options.speed if options.speed else None
    piper: TTS
    if options.voice and options.voice.endswith(".onnx"):
        path = Path(options.voice)
        piper = cache.get(
            ("tts", "piper", str(path), length_scale, options.threads),
            lambda: PiperTTS(path, threads=options.threads, length_scale=length_scale),
        )
    else:
        piper = cache.get(
            ("tts", "piper", None, length_scale, options.threads),
            lambda: _default_piper(options.threads, length_scale),
        )
    return piper, warning


def _default_piper(threads: int | None, length_scale: float | None) -> TTS:
    from openreplica.plugins.tts_piper import PiperTTS, find_packaged_voice

    model, config = find_packaged_voice()
    return PiperTTS(model, config, threads=threads, length_scale=length_scale)


def build_asr(
    engine: str | None, options: ASROptions, cache: ModelCache
) -> tuple[ASRModel, str | None]:
    name, warning = _resolve("ASR", engine, ASR_ENGINES)
    if name == "openai":
        from openreplica.plugins.asr_openai import OpenAICompatibleASR

        asr = OpenAICompatibleASR(
            base_url_or_default(options.base_url),
            api_key=options.api_key,
            model=options.model or "whisper-1",
            language=options.language,
            headers=options.headers,
            timeout=options.timeout,
        )
        return asr, warning
    if name == "faster-whisper":
        from openreplica.plugins.asr_faster_whisper import FasterWhisperASR

        model = options.model or "base.en"
        whisper = cache.get(
            ("asr", "faster-whisper", model, options.language),
            lambda: FasterWhisperASR(model, language=options.language),
        )
        return whisper, warning
    from openreplica.plugins.asr_pocketsphinx import PocketSphinxASR

    sphinx = cache.get(
        ("asr", "pocketsphinx", options.grammar, options.keywords, options.workers),
        lambda: PocketSphinxASR(
            grammar=options.grammar, keywords=options.keywords, workers=options.workers
        ),
    )
    return sphinx, warning


def resolve_vad(engine: str | None, options: VADOptions) -> tuple[str, str]:
    """(`silero` or `webrtc`, why): `auto` (the default) takes Silero when its model can
    be found (`options.silero_model`, else the `silero-vad` package), else webrtcvad,
    which is a hard dependency, so every install can listen."""
    name, warning = _resolve("VAD", engine, VAD_ENGINES)
    if name == "webrtc":
        return "webrtc", "chosen by the vad_engine setting"
    from openreplica.plugins.vad_silero import find_silero_model

    try:
        path = Path(options.silero_model) if options.silero_model else find_silero_model()
        if not path.is_file():
            raise FileNotFoundError(f"no Silero model at {path}")
    except FileNotFoundError as exc:
        # An explicit `silero` that cannot load still listens: webrtcvad is always there.
        return "webrtc", f"Silero is unavailable ({exc}); using webrtcvad"
    return "silero", warning or f"model {path}"


def build_vad(
    engine: str | None, options: VADOptions, cache: ModelCache
) -> tuple[VADModel, str | None]:
    """The VAD `resolve_vad` picks; the warning is set when a named engine was not used."""
    requested, warning = _resolve("VAD", engine, VAD_ENGINES)
    name, why = resolve_vad(engine, options)
    if requested == "silero" and name != "silero":
        warning = why
    if name == "webrtc":
        from openreplica.plugins.vad_webrtc import WebRtcVAD

        return WebRtcVAD(options.aggressiveness), warning
    from openreplica.plugins.vad_silero import SileroVAD

    model = Path(options.silero_model) if options.silero_model else None
    silero = cache.get(
        ("vad", "silero", options.silero_model, options.threads),
        lambda: SileroVAD(model, threads=options.threads),
    )
    return silero, warning


def build_llm(engine: str | None, options: LLMOptions, cache: ModelCache) -> tuple[LLM, str | None]:
    """`openai` (any OpenAI-compatible server, the default) or `llama` (a local GGUF
    at `options.model`, with `extra_body` as generation settings).
    """
    name, warning = _resolve("LLM", engine, LLM_ENGINES)
    if name == "llama":
        from openreplica.plugins.llm_llama import LlamaCppLLM

        path = options.model or ""
        # One loaded model per file; personas differ only in generation settings.
        base = cache.get(("llm", "llama", path), lambda: LlamaCppLLM(path))
        return base.with_generation(options.extra_body), warning
    from openreplica.plugins.llm_openai import OpenAICompatibleLLM

    return OpenAICompatibleLLM(options), warning
