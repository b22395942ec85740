"""The server reads a persona's `layers.perception` into the conversation's plugins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openreplica.plugins.perception.basic import BasicPerception
from openreplica.server.persona_config import ConversationConfig, conversation_config
from openreplica.server.plugin_factory import ScriptedFactory
from openreplica.server.schemas import ConversationCreate, PersonaCreate
from openreplica.server.settings import ServerSettings


def _config(layers: dict[str, Any]) -> ConversationConfig:
    settings = ServerSettings(data_dir=Path("/tmp/x"))
    persona = PersonaCreate.model_validate({"layers": layers})
    return conversation_config(persona, ConversationCreate(), settings, "r-default")


async def test_a_perception_layer_gives_the_conversation_a_perception_engine() -> None:
    config = _config({"perception": {"perception_model": "raven-1"}})
    assert config.perception.engine == "basic"
    assert any("raven-1" in w for w in config.warnings)
    plugins = await ScriptedFactory()(config)
    assert isinstance(plugins.perception, BasicPerception)


async def test_no_layer_no_perception() -> None:
    config = _config({})
    assert config.perception.engine is None and config.warnings == ()
    assert (await ScriptedFactory()(config)).perception is None


def test_an_invalid_layer_is_ignored_with_a_warning() -> None:
    config = _config({"perception": {"visual_tools": [{"type": "function", "function": {}}]}})
    assert config.perception.engine is None
    assert any("layers.perception ignored" in w for w in config.warnings)
