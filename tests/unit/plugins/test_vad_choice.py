"""Which VAD a conversation listens with: `auto` takes Silero when its model can be found
and webrtcvad (a hard dependency) otherwise, so every install can listen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from openreplica.plugins.options import VADOptions
from openreplica.plugins.registry import ModelCache, build_vad, resolve_vad
from openreplica.plugins.vad_silero import SileroVAD, find_silero_model
from openreplica.plugins.vad_webrtc import WebRtcVAD
from openreplica.server.persona_config import ConversationConfig, conversation_config
from openreplica.server.schemas import ConversationCreate, PersonaCreate
from openreplica.server.settings import ServerSettings, SettingsError


def test_auto_takes_silero_when_its_model_is_installed() -> None:
    installed = find_silero_model()  # the test environment has the silero-vad wheel
    name, why = resolve_vad("auto", VADOptions())
    assert (name, why) == ("silero", f"model {installed}")
    vad, warning = build_vad(None, VADOptions(), ModelCache())
    assert isinstance(vad, SileroVAD) and warning is None


@pytest.mark.parametrize("engine", [None, "auto"])
def test_auto_falls_back_to_webrtcvad_without_the_silero_model(
    engine: str | None, tmp_path: Path
) -> None:
    missing = VADOptions(silero_model=str(tmp_path / "silero_vad.onnx"))
    name, why = resolve_vad(engine, missing)
    assert name == "webrtc"
    assert "Silero is unavailable" in why and "silero_vad.onnx" in why
    vad, warning = build_vad(engine, missing, ModelCache())
    assert isinstance(vad, WebRtcVAD)
    assert warning is None  # nobody asked for Silero: the fallback is the plan


def test_an_explicit_silero_that_cannot_load_still_listens_with_a_warning(
    tmp_path: Path,
) -> None:
    vad, warning = build_vad(
        "silero", VADOptions(silero_model=str(tmp_path / "gone.onnx")), ModelCache()
    )
    assert isinstance(vad, WebRtcVAD)
    assert warning is not None and "gone.onnx" in warning


@pytest.mark.parametrize("engine", ["webrtc", "webrtcvad", "WebRTC"])
def test_webrtc_by_name(engine: str) -> None:
    vad, warning = build_vad(engine, VADOptions(), ModelCache())
    assert isinstance(vad, WebRtcVAD) and warning is None


def test_the_persona_layer_wins_over_the_server_setting() -> None:
    settings = ServerSettings(vad_engine="silero")

    def config(persona: dict[str, Any], settings: ServerSettings) -> ConversationConfig:
        return conversation_config(
            PersonaCreate.model_validate(persona), ConversationCreate(), settings, "r"
        )

    own = config({"layers": {"stt": {"vad_engine": "webrtcvad"}}}, settings)
    assert own.vad_engine == "webrtc"
    assert config({}, settings).vad_engine == "silero"
    assert config({}, ServerSettings()).vad_engine == "auto"
    odd = config({"layers": {"stt": {"vad_engine": "cobra"}}}, settings)
    assert odd.vad_engine == "silero" and any("cobra" in w for w in odd.warnings)


def test_the_server_setting_is_checked_at_load() -> None:
    assert ServerSettings.load({}, {"OPENREPLICA_VAD_ENGINE": "webrtcvad"}).vad_engine == "webrtc"
    assert ServerSettings.load({}, {}).vad_engine == "auto"
    with pytest.raises(SettingsError, match="OPENREPLICA_VAD_ENGINE"):
        ServerSettings.load({"vad_engine": "cobra"}, {})
