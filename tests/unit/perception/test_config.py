"""`layers.perception` -> PerceptionConfig: engines, aliases, legacy names, tools."""

from __future__ import annotations

import pytest

from openreplica.plugins.perception import build_perception, perception_config
from openreplica.plugins.perception.basic import BasicPerception
from openreplica.plugins.perception.vision_openai import OpenAIVisionPerception


def test_no_layer_or_off_means_no_perception() -> None:
    for layer in (None, {}, {"perception_model": "off"}, {"perception_model": "OFF"}):
        config, warnings = perception_config(layer)
        assert config.engine is None and not config.enabled and warnings == []
        assert build_perception(config) is None


def test_hosted_model_names_map_to_the_offline_engine_with_a_warning() -> None:
    for name in ("raven-0", "raven-1"):
        config, warnings = perception_config({"perception_model": name})
        assert config.engine == "basic"
        assert len(warnings) == 1 and name in warnings[0] and "basic" in warnings[0]
    config, warnings = perception_config({"perception_model": "mystery"})
    assert config.engine == "basic" and "unknown perception engine" in warnings[0]
    assert isinstance(build_perception(config), BasicPerception)


def test_queries_without_a_model_turn_the_offline_engine_on() -> None:
    config, _ = perception_config({"visual_awareness_queries": ["Is the user smiling?"]})
    assert config.engine == "basic"
    assert config.visual_awareness_queries == ("Is the user smiling?",)


def test_legacy_names_are_read_when_the_new_ones_are_absent() -> None:
    tool = {"type": "function", "function": {"name": "wave", "parameters": {}}}
    config, _ = perception_config(
        {
            "perception_model": "basic",
            "ambient_awareness_queries": ["Is anyone there?"],
            "perception_tool_prompt": "Watch for waves.",
            "perception_tools": [tool],
        }
    )
    assert config.visual_awareness_queries == ("Is anyone there?",)
    assert config.visual_tool_prompt == "Watch for waves."
    assert config.visual_tools == (tool,)
    new, _ = perception_config(
        {
            "visual_awareness_queries": ["new"],
            "ambient_awareness_queries": ["old"],
            "visual_tool_prompt": "new prompt",
            "perception_tool_prompt": "old prompt",
        }
    )
    assert new.visual_awareness_queries == ("new",) and new.visual_tool_prompt == "new prompt"


def test_the_vision_engine_and_its_endpoint() -> None:
    config, warnings = perception_config(
        {
            "perception_model": "openai-compatible",
            "base_url": "http://127.0.0.1:9/v1/",
            "model": "llava",
            "api_key": "k",
            "audio_tool_prompt": "Listen.",
            "audio_tools": [{"name": "laughs", "description": "The user laughs."}],
            "perception_analysis_queries": ["Was the user engaged?"],
            "sample_interval": 2,
        }
    )
    assert warnings == []
    assert (config.engine, config.model, config.api_key) == ("openai", "llava", "k")
    assert config.sample_interval == 2.0
    assert config.audio_tools[0]["function"]["name"] == "laughs"
    engine = build_perception(config)
    assert isinstance(engine, OpenAIVisionPerception)
    assert engine.base_url == "http://127.0.0.1:9/v1"
    engine.close()


def test_a_tool_without_a_name_is_refused() -> None:
    with pytest.raises(ValueError, match=r"function\.name"):
        perception_config({"visual_tools": [{"type": "function", "function": {}}]})


def test_a_bad_number_is_a_warning_not_an_error() -> None:
    config, warnings = perception_config({"perception_model": "basic", "sample_interval": "x"})
    assert config.sample_interval == 1.0 and "sample_interval" in warnings[0]
