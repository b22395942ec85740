"""Persona layers + conversation request + server defaults → one conversation's settings.

Pure: no I/O, no plugin loading. The plugin factory turns the result into plugins.

Mapping (SPEC §4.2, §5):
- `layers.conversational_flow.turn_taking_patience` runs the other way from pause
  sensitivity: high patience = wait long = pause sensitivity `low`; medium = `medium`;
  low patience = pause sensitivity `high`. `replica_interruptibility` low/medium/high =
  interrupt sensitivity low/medium/high. The legacy `layers.stt.participant_*_sensitivity`
  give the level directly; `conversational_flow` wins when both are set.
- `layers.llm` with a `base_url` is used as given; without one, the server's default LLM
  (`OPENREPLICA_LLM_*`) answers. A `model` ending in `.gguf` runs locally (llama.cpp).
  No endpoint at all = no LLM (the conversation reports `llm_unavailable` on respond).
- `layers.stt.vad_engine` (`auto`, `silero`, `webrtc`), else the server's `vad_engine`.
- `layers.tts.tts_engine` / `layers.stt.stt_engine`: an engine this server does not have
  (e.g. a hosted service's name) falls back to the default with a warning.
- `context` = persona `context` + conversation `conversational_context`.
- `layers.perception` -> `PerceptionConfig` (plugins/perception/config.py; docs/perception.md):
  no layer or `perception_model: "off"` = no perception; an invalid layer is ignored with
  a warning.
- `replica_id` = the conversation's, else the persona's `default_replica_id`, else the
  first built-in replica.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from openreplica.engine import EngineSettings, PipelineMode, TurnTaking
from openreplica.plugins.base import LLMOptions
from openreplica.plugins.options import ASROptions, TTSOptions
from openreplica.plugins.perception import PerceptionConfig, perception_config
from openreplica.plugins.registry import ASR_ENGINES, TTS_ENGINES, VAD_ENGINES, resolve_engine
from openreplica.protocol import SENSITIVITY_LEVELS, SensitivityLevel
from openreplica.server.settings import ServerSettings

__all__ = [
    "PATIENCE_TO_PAUSE",
    "ConversationConfig",
    "conversation_config",
]

PATIENCE_TO_PAUSE: dict[str, SensitivityLevel] = {"low": "high", "medium": "medium", "high": "low"}
INTERRUPTIBILITY_TO_INTERRUPT: dict[str, SensitivityLevel] = {
    "low": "low",
    "medium": "medium",
    "high": "high",
}


@dataclass(frozen=True)
class ConversationConfig:
    engine: EngineSettings
    #: "openai" (any OpenAI-compatible endpoint) or "llama" (local GGUF); None = no LLM
    llm_engine: str | None
    llm: LLMOptions
    tts_engine: str | None
    tts: TTSOptions
    stt_engine: str | None
    stt: ASROptions
    warnings: tuple[str, ...] = field(default=())
    #: "auto", "silero" or "webrtc" (plugins.registry.resolve_vad decides what auto means)
    vad_engine: str = "auto"
    #: "smart_turn" (the end-of-turn model, if the server has it) or "silence"
    turn_detector: str = "smart_turn"
    perception: PerceptionConfig = field(default_factory=lambda: PerceptionConfig(engine=None))


def _section(layers: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = layers.get(name)
    return value if isinstance(value, Mapping) else {}


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _level(value: object) -> SensitivityLevel | None:
    for level in SENSITIVITY_LEVELS:
        if value == level:
            return level
    return None


def _turn_taking(stt: Mapping[str, Any], flow: Mapping[str, Any]) -> TurnTaking:
    pause = PATIENCE_TO_PAUSE.get(str(flow.get("turn_taking_patience")))
    interrupt = INTERRUPTIBILITY_TO_INTERRUPT.get(str(flow.get("replica_interruptibility")))
    pause = pause or _level(stt.get("participant_pause_sensitivity"))
    interrupt = interrupt or _level(stt.get("participant_interrupt_sensitivity"))
    return TurnTaking().updated(pause, interrupt)


def _llm(llm: Mapping[str, Any], settings: ServerSettings) -> tuple[str | None, LLMOptions]:
    own_endpoint = _str(llm.get("base_url"))
    model = _str(llm.get("model"))
    headers = _section(llm, "headers")
    extra = _section(llm, "extra_body")
    if model is not None and model.endswith(".gguf"):
        return "llama", LLMOptions(model=model, extra_body=dict(extra))
    if own_endpoint is not None:
        options = LLMOptions(
            model=model,
            base_url=own_endpoint,
            api_key=_str(llm.get("api_key")),
            headers={str(k): str(v) for k, v in dict(headers).items()},
            extra_body=dict(extra),
        )
        return "openai", options
    if settings.llm_model_path is not None:  # the server's local model
        return "llama", LLMOptions(model=settings.llm_model_path, extra_body=dict(extra))
    if settings.llm_base_url is None:
        return None, LLMOptions(model=model)
    options = LLMOptions(
        model=settings.llm_model or model,
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key,
        headers={str(k): str(v) for k, v in dict(headers).items()},
        extra_body=dict(extra),
    )
    return "openai", options


def _tts(tts: Mapping[str, Any]) -> TTSOptions:
    voice_settings = tts.get("voice_settings")
    speed = voice_settings.get("speed") if isinstance(voice_settings, Mapping) else None
    speed = tts.get("speed", speed)
    return TTSOptions(
        voice=_str(tts.get("voice")) or _str(tts.get("external_voice_id")),
        model=_str(tts.get("model")) or _str(tts.get("tts_model_name")),
        base_url=_str(tts.get("base_url")),
        api_key=_str(tts.get("api_key")),
        speed=float(speed) if isinstance(speed, int | float) and speed > 0 else None,
    )


def _stt(stt: Mapping[str, Any], language: str | None) -> ASROptions:
    hotwords = stt.get("hotwords")
    keywords = tuple(str(w) for w in hotwords) if isinstance(hotwords, list) and hotwords else None
    return ASROptions(
        model=_str(stt.get("model")),
        base_url=_str(stt.get("base_url")),
        api_key=_str(stt.get("api_key")),
        language=language,
        keywords=keywords,
    )


def _tools(llm: Mapping[str, Any]) -> tuple[dict[str, object], ...]:
    tools = llm.get("tools")
    if not isinstance(tools, list):
        return ()
    return tuple(dict(t) for t in tools if isinstance(t, Mapping))


def conversation_config(
    persona: Mapping[str, Any],
    request: Mapping[str, Any],
    settings: ServerSettings,
    default_replica_id: str,
) -> ConversationConfig:
    """The settings of one conversation created with `request` on `persona`."""
    layers = _section(persona, "layers")
    llm, tts, stt = (_section(layers, n) for n in ("llm", "tts", "stt"))
    flow = _section(layers, "conversational_flow")
    warnings: list[str] = []
    tts_engine, warning = resolve_engine(
        "TTS", tts.get("tts_engine"), TTS_ENGINES, settings.tts_engine
    )
    warnings += [warning] if warning else []
    stt_engine, warning = resolve_engine(
        "STT", stt.get("stt_engine"), ASR_ENGINES, settings.stt_engine
    )
    warnings += [warning] if warning else []
    vad_engine, warning = resolve_engine(
        "VAD", stt.get("vad_engine"), VAD_ENGINES, settings.vad_engine
    )
    warnings += [warning] if warning else []
    turn_detector, warning = resolve_engine(
        "turn detector",
        stt.get("turn_detector"),
        ("smart_turn", "silence"),
        settings.turn_detector,
    )
    warnings += [warning] if warning else []
    llm_engine, llm_options = _llm(llm, settings)
    perception, perception_warnings = _perception(_section(layers, "perception"))
    warnings += perception_warnings
    contexts = [_str(persona.get("context")), _str(request.get("conversational_context"))]
    mode = persona.get("pipeline_mode")
    properties = request.get("properties")
    language = properties.get("language") if isinstance(properties, Mapping) else None
    engine = EngineSettings(
        replica_id=_str(request.get("replica_id"))
        or _str(persona.get("default_replica_id"))
        or default_replica_id,
        pipeline_mode=cast(PipelineMode, mode) if mode in ("full", "echo") else "full",
        system_prompt=_str(persona.get("system_prompt")) or EngineSettings().system_prompt,
        context="\n\n".join(c for c in contexts if c),
        custom_greeting=_str(request.get("custom_greeting")),
        tools=_tools(llm),
        turn_taking=_turn_taking(stt, flow),
        limits=settings.speech_limits,
        emit_replica_interrupted=settings.replica_interrupted,
        presence_interval=settings.presence_interval,
    )
    return ConversationConfig(
        engine=engine,
        llm_engine=llm_engine,
        llm=llm_options,
        tts_engine=tts_engine,
        tts=_tts(tts),
        stt_engine=stt_engine,
        stt=_stt(stt, _str(language)),
        warnings=tuple(warnings),
        vad_engine=vad_engine or "auto",
        turn_detector=turn_detector or "smart_turn",
        perception=perception,
    )


def _perception(layer: Mapping[str, Any]) -> tuple[PerceptionConfig, list[str]]:
    try:
        return perception_config(layer)
    except (ValueError, TypeError) as exc:
        off = PerceptionConfig(engine=None)
        return off, [f"layers.perception ignored, perception is off: {exc}"]
