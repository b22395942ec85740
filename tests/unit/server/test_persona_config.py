"""Persona layers + conversation request → conversation settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from openreplica.server.persona_config import conversation_config
from openreplica.server.schemas import ConversationCreate, PersonaCreate
from openreplica.server.settings import ServerSettings

SETTINGS = ServerSettings(data_dir=Path("/tmp/x"))


def _config(persona: dict[str, Any], request: dict[str, Any] | None = None, **settings: Any):  # type: ignore[no-untyped-def]
    server = ServerSettings(data_dir=Path("/tmp/x"), **settings)
    return conversation_config(
        PersonaCreate.model_validate(persona),
        ConversationCreate.model_validate(request or {}),
        server,
        "r-default",
    )


@pytest.mark.parametrize(
    ("patience", "pause"), [("low", "high"), ("medium", "medium"), ("high", "low")]
)
def test_turn_taking_patience_runs_inverse_to_pause_sensitivity(patience: str, pause: str) -> None:
    config = _config({"layers": {"conversational_flow": {"turn_taking_patience": patience}}})
    assert config.engine.turn_taking.pause_sensitivity == pause


@pytest.mark.parametrize("level", ["low", "medium", "high"])
def test_replica_interruptibility_maps_to_interrupt_sensitivity(level: str) -> None:
    config = _config({"layers": {"conversational_flow": {"replica_interruptibility": level}}})
    assert config.engine.turn_taking.interrupt_sensitivity == level


def test_legacy_stt_sensitivities_apply_and_conversational_flow_wins() -> None:
    legacy = {
        "participant_pause_sensitivity": "superlow",
        "participant_interrupt_sensitivity": "verylow",
    }
    config = _config({"layers": {"stt": legacy}})
    assert config.engine.turn_taking.pause_sensitivity == "superlow"
    assert config.engine.turn_taking.interrupt_sensitivity == "verylow"
    both = _config(
        {"layers": {"stt": legacy, "conversational_flow": {"turn_taking_patience": "low"}}}
    )
    assert both.engine.turn_taking.pause_sensitivity == "high"
    assert both.engine.turn_taking.interrupt_sensitivity == "verylow"


def test_defaults_with_an_empty_persona() -> None:
    config = _config({})
    assert config.engine.replica_id == "r-default"
    assert config.engine.pipeline_mode == "full"
    assert config.engine.turn_taking.pause_sensitivity == "medium"
    assert config.llm_engine is None  # no endpoint anywhere: no LLM
    assert config.tts_engine is None and config.stt_engine is None  # registry defaults
    assert config.warnings == ()


def test_the_persona_llm_is_used_as_given() -> None:
    llm = {
        "model": "m1",
        "base_url": "http://127.0.0.1:9/v1",
        "api_key": "k",
        "headers": {"x-a": "1"},
        "extra_body": {"temperature": 0.2},
        "tools": [{"type": "function", "function": {"name": "f"}}],
    }
    config = _config({"layers": {"llm": llm}}, llm_base_url="http://default/v1", llm_model="d")
    assert config.llm_engine == "openai"
    assert config.llm.model == "m1" and config.llm.base_url == "http://127.0.0.1:9/v1"
    assert config.llm.api_key == "k" and dict(config.llm.headers) == {"x-a": "1"}
    assert dict(config.llm.extra_body) == {"temperature": 0.2}
    assert config.engine.tools == ({"type": "function", "function": {"name": "f"}},)


def test_the_server_default_llm_answers_when_the_persona_names_no_endpoint() -> None:
    config = _config(
        {"layers": {"llm": {"model": "tavus-gpt"}}},
        llm_base_url="http://127.0.0.1:8/v1",
        llm_api_key="sk",
        llm_model="local-model",
    )
    assert config.llm_engine == "openai"
    assert config.llm.base_url == "http://127.0.0.1:8/v1"
    assert config.llm.api_key == "sk" and config.llm.model == "local-model"


def test_a_gguf_model_runs_locally() -> None:
    config = _config({"layers": {"llm": {"model": "/models/x.gguf", "extra_body": {"seed": 1}}}})
    assert config.llm_engine == "llama" and config.llm.model == "/models/x.gguf"


def test_the_server_local_model_answers_personas_with_no_llm_of_their_own() -> None:
    local = _config(
        {"layers": {"llm": {"extra_body": {"max_tokens": 64}}}},
        llm_model_path="/models/qwen.gguf",
        llm_base_url="http://127.0.0.1:8/v1",
    )
    assert local.llm_engine == "llama" and local.llm.model == "/models/qwen.gguf"
    assert dict(local.llm.extra_body) == {"max_tokens": 64}
    own = _config(
        {"layers": {"llm": {"base_url": "http://127.0.0.1:9/v1"}}},
        llm_model_path="/models/qwen.gguf",
    )
    assert own.llm_engine == "openai" and own.llm.base_url == "http://127.0.0.1:9/v1"


def test_engines_known_unknown_and_server_defaults() -> None:
    config = _config(
        {"layers": {"tts": {"tts_engine": "espeak-ng"}, "stt": {"stt_engine": "openai"}}}
    )
    assert (config.tts_engine, config.stt_engine, config.warnings) == ("espeak", "openai", ())
    hosted = _config(
        {"layers": {"tts": {"tts_engine": "cartesia"}, "stt": {"stt_engine": "tavus-advanced"}}},
        tts_engine="espeak",
    )
    assert hosted.tts_engine == "espeak" and hosted.stt_engine is None
    assert len(hosted.warnings) == 2
    assert "cartesia" in hosted.warnings[0] and "espeak" in hosted.warnings[0]
    assert "tavus-advanced" in hosted.warnings[1] and "pocketsphinx" in hosted.warnings[1]


def test_tts_options_from_public_fields() -> None:
    config = _config(
        {"layers": {"tts": {"external_voice_id": "alloy", "voice_settings": {"speed": 1.25}}}}
    )
    assert config.tts.voice == "alloy" and config.tts.speed == 1.25


def test_context_greeting_mode_prompt_and_replica() -> None:
    persona = {
        "system_prompt": "Be brief.",
        "context": "You sell bikes.",
        "pipeline_mode": "echo",
        "default_replica_id": "r-leo",
    }
    request = {
        "conversational_context": "The user is Sam.",
        "custom_greeting": "Hi Sam!",
        "properties": {"language": "en"},
    }
    config = _config(persona, request)
    assert config.engine.context == "You sell bikes.\n\nThe user is Sam."
    assert config.engine.custom_greeting == "Hi Sam!"
    assert config.engine.pipeline_mode == "echo"
    assert config.engine.system_prompt == "Be brief."
    assert config.engine.replica_id == "r-leo"
    assert config.stt.language == "en"
    assert _config(persona, {"replica_id": "r-aria"}).engine.replica_id == "r-aria"


def test_presence_and_replica_interrupted_come_from_the_server_settings() -> None:
    default = _config({}).engine
    assert (default.presence_interval, default.emit_replica_interrupted) == (5.0, True)
    tuned = _config({}, presence_interval=0.0, replica_interrupted=False).engine
    assert (tuned.presence_interval, tuned.emit_replica_interrupted) == (0.0, False)


def test_a_stored_persona_with_a_value_of_another_type_keeps_working() -> None:
    # Stored before `layers.tts.model` and `layers.stt.vad_engine` were declared: such
    # values were never used, and are left out when the document is read back.
    document: dict[str, Any] = {
        "system_prompt": "Be brief.",
        "layers": {"tts": {"model": 5, "voice": "amy"}, "stt": {"vad_engine": ["x"]}},
    }
    persona = PersonaCreate.stored(document)
    assert persona.layers is not None and persona.layers.tts is not None
    assert persona.layers.tts.model is None and persona.layers.tts.voice == "amy"
    assert persona.system_prompt == "Be brief."
    assert document["layers"]["tts"]["model"] == 5  # the stored document is not changed
    config = conversation_config(persona, ConversationCreate(), ServerSettings(), "r")
    assert config.tts.voice == "amy" and config.vad_engine == "auto"
