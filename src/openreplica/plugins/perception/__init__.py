"""Perception: what the replica sees (and notices in how the user speaks).

`perception_config(layers.perception)` reads the persona layer; `build_perception(config)`
returns a per-conversation engine (None when perception is off):

- `BasicPerception` — offline OpenCV face detector, rules and statistics (the default);
- `OpenAIVisionPerception` — any OpenAI-compatible vision model.

Both implement `PerceptionEngine` (`base.py`); the runtime's `PerceptionLayer` samples
camera frames and calls the engine off the audio path.
"""

from __future__ import annotations

from openreplica.plugins.perception.base import (
    AudioToolCall,
    Image,
    Observation,
    PerceptionEngine,
    PerceptionUnavailable,
    SpeechFeatures,
    VisionToolCall,
)
from openreplica.plugins.perception.config import (
    PERCEPTION_ENGINES,
    PerceptionConfig,
    normalise_tools,
    perception_config,
)

__all__ = [
    "PERCEPTION_ENGINES",
    "AudioToolCall",
    "Image",
    "Observation",
    "PerceptionConfig",
    "PerceptionEngine",
    "PerceptionUnavailable",
    "SpeechFeatures",
    "VisionToolCall",
    "build_perception",
    "normalise_tools",
    "perception_config",
]


def build_perception(config: PerceptionConfig) -> PerceptionEngine | None:
    """A fresh engine for one conversation; None when perception is off. Cheap: the
    offline detector loads its cascades in the worker thread on first use."""
    if config.engine is None:
        return None
    if config.engine == "openai":
        from openreplica.plugins.perception.vision_openai import OpenAIVisionPerception

        return OpenAIVisionPerception(config)
    from openreplica.plugins.perception.basic import BasicPerception

    return BasicPerception(config)
