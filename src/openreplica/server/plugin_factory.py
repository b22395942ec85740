"""Build one conversation's plugins from its `ConversationConfig`.

`ModelFactory` loads real models through the plugin registry, sharing loaded models
across conversations through one `ModelCache` per process. Loading runs in a worker
thread (one at a time) so a first Piper or pocketsphinx load never stalls the event loop.

`ScriptedFactory` is for tests and benchmarks only (`--testing-scripted-plugins`): an
instant tone TTS and an LLM that repeats what the user said. It is not a feature.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from openreplica.plugins.base import LLM, ChatMessage, EndOfTurnModel, LLMDelta, TextDelta
from openreplica.plugins.options import ASROptions, TTSOptions, VADOptions
from openreplica.plugins.perception import build_perception
from openreplica.plugins.registry import (
    ModelCache,
    build_asr,
    build_llm,
    build_tts,
    build_vad,
    resolve_vad,
)
from openreplica.plugins.scripted import ScriptedTTS
from openreplica.plugins.viseme_audio import AudioVisemeModel
from openreplica.runtime import RuntimePlugins
from openreplica.server.persona_config import ConversationConfig

log = logging.getLogger(__name__)

__all__ = ["ModelFactory", "PluginFactory", "ScriptedFactory"]

PluginFactory = Callable[[ConversationConfig], Awaitable[RuntimePlugins]]


class ModelFactory:
    """Real plugins from the registry."""

    def __init__(
        self, cache: ModelCache, turn_model_path: Path | None = None, asr_workers: int = 1
    ) -> None:
        self._cache = cache
        #: PocketSphinx's worker processes (0: its decoders on the event loop's thread)
        self._asr_workers = asr_workers
        self._lock = asyncio.Lock()
        #: the Smart Turn file; conversations asking for `smart_turn` use it when present
        self._turn_model_path = turn_model_path

    async def __call__(self, config: ConversationConfig) -> RuntimePlugins:
        async with self._lock:
            return await asyncio.to_thread(self._build, config)

    def _build(self, config: ConversationConfig) -> RuntimePlugins:
        tts, warning = build_tts(config.tts_engine, config.tts, self._cache)
        _warn(warning)
        llm: LLM | None = None
        if config.llm_engine is not None:
            llm, warning = build_llm(config.llm_engine, config.llm, self._cache)
            _warn(warning)
        plugins = RuntimePlugins(
            tts=tts,
            llm=llm,
            perception=build_perception(config.perception),
            visemes_from_audio=self._cache.get("visemes_from_audio", AudioVisemeModel.load),
        )
        try:  # voice input is optional: a text-only conversation works without it
            plugins.vad, warning = build_vad(config.vad_engine, VADOptions(), self._cache)
            _warn(warning)
            plugins.asr, warning = build_asr(
                config.stt_engine, replace(config.stt, workers=self._asr_workers), self._cache
            )
            _warn(warning)
        except Exception as exc:
            log.warning("voice input unavailable (%s): the replica will not listen", exc)
            plugins.vad = plugins.asr = None
        if config.turn_detector == "smart_turn" and plugins.asr is not None:
            plugins.turn = self._turn_model()
        return plugins

    def _turn_model(self) -> EndOfTurnModel | None:
        path = self._turn_model_path
        if path is None or not path.is_file():
            return None
        from openreplica.plugins.turn_smart import SmartTurnModel

        return self._cache.get(("turn", str(path)), lambda: SmartTurnModel(path))

    async def warm(
        self, tts_engine: str | None, stt_engine: str | None, vad_engine: str | None = None
    ) -> None:
        """Load the default models before the first conversation needs them: a first
        Piper or pocketsphinx load takes about a second and would otherwise fall on the
        first caller (pocketsphinx holds the GIL while it builds a decoder). Logs which
        VAD the server listens with, once."""
        name, why = resolve_vad(vad_engine, VADOptions())
        if name == "silero":
            log.info("voice activity detection: silero (%s)", why)
        else:
            log.info("voice activity detection: webrtcvad (%s)", why)
        path = self._turn_model_path
        if path is not None and path.is_file():
            log.info("end of turn: Smart Turn v3 (%s) with the fixed silence as fallback", path)
        else:
            log.info(
                "end of turn: a fixed silence (no Smart Turn model at %s: run "
                "`openreplica models pull turn` to fetch it)",
                path,
            )
        try:
            async with self._lock:
                asr = await asyncio.to_thread(self._warm, tts_engine, stt_engine, vad_engine)
                awarm = getattr(asr, "awarm", None)  # e.g. pocketsphinx's decoders
                if callable(awarm):
                    await awarm(1)
        except Exception as exc:
            log.warning("could not preload the default models (%s); they load on first use", exc)

    def _warm(
        self, tts_engine: str | None, stt_engine: str | None, vad_engine: str | None = None
    ) -> object:
        build_tts(tts_engine, TTSOptions(), self._cache)
        build_vad(vad_engine, VADOptions(), self._cache)
        self._turn_model()
        asr, _ = build_asr(stt_engine, ASROptions(workers=self._asr_workers), self._cache)
        return asr


def _warn(warning: str | None) -> None:
    if warning:
        log.warning("%s", warning)


class EchoingLLM:
    """Testing only: answers "You said: <the user's last message>", word by word."""

    name = "testing-echo"

    async def stream(
        self, messages: Sequence[ChatMessage], tools: Sequence[Mapping[str, Any]] = ()
    ) -> AsyncIterator[LLMDelta]:
        said = next((m.content for m in reversed(messages) if m.role == "user"), "")
        words = f"You said: {said}".split(" ")
        for i, word in enumerate(words):
            yield TextDelta(word if i == 0 else " " + word)


class ScriptedFactory:
    """Testing only: no models, instant synthesis (audio still plays out in real time)."""

    def __init__(self, ms_per_word: int = 200) -> None:
        self.ms_per_word = ms_per_word
        self._visemes_from_audio = AudioVisemeModel.load()

    async def __call__(self, config: ConversationConfig) -> RuntimePlugins:
        rate = config.engine.output_sample_rate
        return RuntimePlugins(
            tts=ScriptedTTS(sample_rate=rate, ms_per_word=self.ms_per_word),
            llm=EchoingLLM(),
            perception=build_perception(config.perception),
            visemes_from_audio=self._visemes_from_audio,
        )
