"""`turn_detector`: a server setting and `layers.stt.turn_detector`; the model is used
when its file is there, else the fixed silence decides and the log says why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from turn_model import turn_model_path

from openreplica.plugins.registry import ModelCache
from openreplica.server.persona_config import conversation_config
from openreplica.server.plugin_factory import ModelFactory
from openreplica.server.schemas import ConversationCreate, PersonaCreate
from openreplica.server.settings import ServerSettings, SettingsError


def config(persona: dict[str, Any], **settings: Any):  # type: ignore[no-untyped-def]
    server = ServerSettings(data_dir=Path("/tmp/x"), **settings)
    return conversation_config(
        PersonaCreate.model_validate(persona), ConversationCreate(), server, "r-default"
    )


def test_the_setting_is_read_from_flags_and_the_environment(tmp_path: Path) -> None:
    env = {"OPENREPLICA_TURN_DETECTOR": "silence", "OPENREPLICA_DATA_DIR": str(tmp_path)}
    assert ServerSettings.load({}, env).turn_detector == "silence"
    assert ServerSettings.load({}, {"OPENREPLICA_DATA_DIR": str(tmp_path)}).turn_detector == (
        "smart_turn"
    )
    with pytest.raises(SettingsError, match="smart_turn, silence"):
        ServerSettings.load({"turn_detector": "magic"}, {})


def test_the_model_file_lives_in_the_data_dir_unless_named(tmp_path: Path) -> None:
    settings = ServerSettings(data_dir=tmp_path)
    assert settings.smart_turn_path == tmp_path / "models" / "smart-turn-v3.2-cpu.onnx"
    named = ServerSettings(data_dir=tmp_path, turn_model_path="/m/st.onnx")
    assert named.smart_turn_path == Path("/m/st.onnx")


def test_a_persona_picks_its_detector_and_an_unknown_name_warns() -> None:
    assert config({}).turn_detector == "smart_turn"
    assert config({}, turn_detector="silence").turn_detector == "silence"
    chosen = config({"layers": {"stt": {"turn_detector": "silence"}}})
    assert chosen.turn_detector == "silence" and not chosen.warnings
    odd = config({"layers": {"stt": {"turn_detector": "livekit"}}})
    assert odd.turn_detector == "smart_turn" and "turn detector" in odd.warnings[0]


async def test_conversations_get_the_model_only_when_its_file_is_there(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="openreplica.server.plugin_factory")
    persona = {"layers": {"tts": {"tts_engine": "espeak"}}}
    missing = ModelFactory(ModelCache(), tmp_path / "none.onnx")
    await missing.warm("espeak", None)
    assert "no Smart Turn model at" in caplog.text and "models pull turn" in caplog.text
    assert (await missing(config(persona))).turn is None

    present = ModelFactory(ModelCache(), turn_model_path())
    assert (await present(config(persona))).turn is not None
    silent = config({"layers": {"stt": {"turn_detector": "silence"}, **persona["layers"]}})
    assert (await present(silent)).turn is None
