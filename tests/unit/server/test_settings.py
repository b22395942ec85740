"""Settings from flags and OPENREPLICA_* variables; the serve command's checks and help."""

from __future__ import annotations

from pathlib import Path

import pytest

from openreplica.cli import main
from openreplica.engine import SpeechLimits
from openreplica.server.persona_config import conversation_config
from openreplica.server.schemas import ConversationCreate, PersonaCreate
from openreplica.server.settings import OPTIONS, ServerSettings, SettingsError


def test_flags_win_over_env_and_env_over_defaults() -> None:
    env = {
        "HOME": "/home/u",
        "OPENREPLICA_PORT": "9000",
        "OPENREPLICA_API_KEY": "from-env",
        "OPENREPLICA_RATE_LIMIT": "5.5",
        "OPENREPLICA_TESTING_SCRIPTED_PLUGINS": "yes",
        "OPENREPLICA_LLM_MODEL": "",  # empty = unset
    }
    settings = ServerSettings.load({"port": "9001", "host": None}, env)
    assert settings.port == 9001 and settings.api_key == "from-env"
    assert settings.rate_limit == 5.5 and settings.testing_scripted_plugins is True
    assert settings.llm_model is None and settings.host == "127.0.0.1"
    assert settings.data_dir == Path("/home/u/.local/share/openreplica")
    assert (
        settings.sqlalchemy_url
        == "sqlite+aiosqlite:////home/u/.local/share/openreplica/openreplica.db"
    )


def test_data_dir_follows_xdg_and_the_variable() -> None:
    assert ServerSettings.load({}, {"XDG_DATA_HOME": "/x"}).data_dir == Path("/x/openreplica")
    settings = ServerSettings.load({}, {"OPENREPLICA_DATA_DIR": "/d", "HOME": "/h"})
    assert settings.data_dir == Path("/d")


def test_a_bad_value_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="OPENREPLICA_PORT"):
        ServerSettings.load({}, {"OPENREPLICA_PORT": "eighty"})


def test_no_key_is_refused_off_loopback_and_allowed_on_it() -> None:
    ServerSettings(host="127.0.0.1").check()
    ServerSettings(host="::1").check()
    ServerSettings(host="localhost").check()
    ServerSettings(host="0.0.0.0", api_key="k").check()
    with pytest.raises(SettingsError, match="without an API key"):
        ServerSettings(host="0.0.0.0").check()


def test_public_and_base_urls() -> None:
    assert ServerSettings(port=81).base_url == "http://127.0.0.1:81"
    assert ServerSettings(host="::1", port=81).base_url == "http://[::1]:81"
    assert ServerSettings(public_url="https://x.org/").base_url == "https://x.org"


def test_serve_help_documents_every_flag_and_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    text = capsys.readouterr().out
    for option in OPTIONS:
        assert option.flag in text and option.env in text


def test_serve_refuses_a_public_address_without_a_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENREPLICA_API_KEY", raising=False)
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "without an API key" in capsys.readouterr().err


def test_the_edge_limits_load_and_are_checked() -> None:
    settings = ServerSettings.load(
        {},
        {
            "OPENREPLICA_MAX_BODY_BYTES": "2048",
            "OPENREPLICA_CONVERSATION_RATE_LIMIT": "7.5",
        },
    )
    assert settings.max_body_bytes == 2048 and settings.conversation_rate_limit == 7.5
    assert (settings.max_offer_bytes, settings.max_persona_bytes) == (256 * 1024, 64 * 1024)
    with pytest.raises(SettingsError, match="--max-offer-bytes"):
        ServerSettings(max_offer_bytes=10).check()
    with pytest.raises(SettingsError, match="--conversation-rate-limit"):
        ServerSettings(conversation_rate_burst=0).check()


def test_speech_limits_are_read_at_the_edge_and_reach_every_conversation() -> None:
    env = {
        "OPENREPLICA_MAX_UTTERANCE_CHARS": "500",
        "OPENREPLICA_MAX_ECHO_AUDIO_AHEAD": "4.5",
        "OPENREPLICA_TTS_AHEAD": "2",
    }
    settings = ServerSettings.load({"tts_ahead": "3"}, env)
    limits = SpeechLimits(max_utterance_chars=500, max_echo_audio_ahead=4.5, tts_ahead=3.0)
    assert settings.speech_limits == limits
    config = conversation_config(PersonaCreate(), ConversationCreate(), settings, "r-aria")
    assert config.engine.limits == limits
    assert ServerSettings().speech_limits == SpeechLimits()  # one set of defaults
    for bad in ({"max_utterance_chars": 0}, {"max_echo_audio_ahead": 0.0}, {"tts_ahead": -1.0}):
        with pytest.raises(SettingsError):
            ServerSettings(**bad).check()


def test_asr_workers_loads_and_refuses_a_negative_count() -> None:
    assert ServerSettings().asr_workers == 1
    assert ServerSettings.load({}, {"OPENREPLICA_ASR_WORKERS": "0"}).asr_workers == 0
    assert ServerSettings.load({"asr_workers": "2"}, {}).asr_workers == 2
    with pytest.raises(SettingsError, match="asr"):
        ServerSettings.load({"asr_workers": "-1"}, {})
