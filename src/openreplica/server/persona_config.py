"""Persona layers + conversation request + server defaults → one conversation's settings.

Pure: no I/O, no plugin loading. The plugin factory turns the result into plugins. Both
documents come typed (`schemas.PersonaCreate`, `schemas.ConversationCreate`, validated
when they were sent); only a hosted engine's open `voice_settings` and the perception
layer (validated by `perception_config`) are read as plain JSON.

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

from dataclasses import dataclass, field
from typing import Any

from openreplica.engine import EngineSettings, TurnTaking
from openreplica.plugins.base import LLMOptions
from openreplica.plugins.options import ASROptions, TTSOptions
from openreplica.plugins.perception import PerceptionConfig, perception_config
from openreplica.plugins.registry import ASR_ENGINES, TTS_ENGINES, VAD_ENGINES, resolve_engine
from openreplica.protocol import SensitivityLevel
from openreplica.server.schemas import (
    ConversationalFlowLayer,
    ConversationCreate,
    LLMLayer,
    PersonaCreate,
    STTLayer,
    TTSLayer,
)
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


def _turn_taking(stt: STTLayer, flow: ConversationalFlowLayer) -> TurnTaking:
    pause = PATIENCE_TO_PAUSE.get(flow.turn_taking_patience or "")
    interrupt = INTERRUPTIBILITY_TO_INTERRUPT.get(flow.replica_interruptibility or "")
    pause = pause or stt.participant_pause_sensitivity
    interrupt = interrupt or stt.participant_interrupt_sensitivity
    return TurnTaking().updated(pause, interrupt)


def _llm(llm: LLMLayer, settings: ServerSettings) -> tuple[str | None, LLMOptions]:
    own_endpoint = llm.base_url or None
    model = llm.model or None
    headers = dict(llm.headers or {})
    extra = dict(llm.extra_body or {})
    if model is not None and model.endswith(".gguf"):
        return "llama", LLMOptions(model=model, extra_body=extra)
    if own_endpoint is not None:
        options = LLMOptions(
            model=model,
            base_url=own_endpoint,
            api_key=llm.api_key or None,
            headers=headers,
            extra_body=extra,
        )
        return "openai", options
    if settings.llm_model_path is not None:  # the server's local model
        return "llama", LLMOptions(model=settings.llm_model_path, extra_body=extra)
    if settings.llm_base_url is None:
        return None, LLMOptions(model=model)
    options = LLMOptions(
        model=settings.llm_model or model,
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key,
        headers=headers,
        extra_body=extra,
    )
    return "openai", options


def _speed(value: object) -> float | None:
    """A usable speaking rate, or None (a hosted engine's "fast", zero, a negative)."""
    if isinstance(value, int | float) and value > 0:
        return float(value)
    return None


def _tts(tts: TTSLayer) -> TTSOptions:
    speed = tts.speed if tts.speed is not None else (tts.voice_settings or {}).get("speed")
    return TTSOptions(
        voice=tts.voice or tts.external_voice_id or None,
        model=tts.model or tts.tts_model_name or None,
        base_url=tts.base_url or None,
        api_key=tts.api_key or None,
        speed=_speed(speed),
    )


def _stt(stt: STTLayer, language: str | None) -> ASROptions:
    return ASROptions(
        model=stt.model or None,
        base_url=stt.base_url or None,
        api_key=stt.api_key or None,
        language=language,
        keywords=tuple(stt.hotwords) if stt.hotwords else None,
    )


def _tools(llm: LLMLayer) -> tuple[dict[str, object], ...]:
    return tuple(dict(t) for t in llm.tools or ())


def conversation_config(
    persona: PersonaCreate,
    request: ConversationCreate,
    settings: ServerSettings,
    default_replica_id: str,
) -> ConversationConfig:
    """The settings of one conversation created with `request` on `persona`."""
    layers = persona.layers
    llm = (layers.llm if layers else None) or LLMLayer()
    tts = (layers.tts if layers else None) or TTSLayer()
    stt = (layers.stt if layers else None) or STTLayer()
    flow = (layers.conversational_flow if layers else None) or ConversationalFlowLayer()
    warnings: list[str] = []
    tts_engine, warning = resolve_engine("TTS", tts.tts_engine, TTS_ENGINES, settings.tts_engine)
    warnings += [warning] if warning else []
    stt_engine, warning = resolve_engine("STT", stt.stt_engine, ASR_ENGINES, settings.stt_engine)
    warnings += [warning] if warning else []
    vad_engine, warning = resolve_engine("VAD", stt.vad_engine, VAD_ENGINES, settings.vad_engine)
    warnings += [warning] if warning else []
    turn_detector, warning = resolve_engine(
        "turn detector", stt.turn_detector, ("smart_turn", "silence"), settings.turn_detector
    )
    warnings += [warning] if warning else []
    llm_engine, llm_options = _llm(llm, settings)
    perception, perception_warnings = _perception((layers.perception if layers else None) or {})
    warnings += perception_warnings
    contexts = [persona.context, request.conversational_context]
    language = request.properties.language if request.properties else None
    engine = EngineSettings(
        replica_id=request.replica_id or persona.default_replica_id or default_replica_id,
        pipeline_mode=persona.pipeline_mode,
        system_prompt=persona.system_prompt or EngineSettings().system_prompt,
        context="\n\n".join(c for c in contexts if c),
        custom_greeting=request.custom_greeting or None,
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
        stt=_stt(stt, language or None),
        warnings=tuple(warnings),
        vad_engine=vad_engine or "auto",
        turn_detector=turn_detector or "smart_turn",
        perception=perception,
    )


def _perception(layer: dict[str, Any]) -> tuple[PerceptionConfig, list[str]]:
    try:
        return perception_config(layer)
    except (ValueError, TypeError) as exc:
        off = PerceptionConfig(engine=None)
        return off, [f"layers.perception ignored, perception is off: {exc}"]
