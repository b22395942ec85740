"""The persona's `layers.perception`, read once into a typed `PerceptionConfig`.

Field names follow the public API. `perception_model` picks the engine:

- `"off"` (or no perception layer at all): no perception;
- `"basic"` (aliases `opencv`, `offline`): the offline OpenCV detector (`basic.py`);
- `"openai"` (aliases `openai-compatible`, `vision`): an OpenAI-compatible vision model at
  `base_url` / `model` / `api_key` (`vision_openai.py`);
- the hosted service's names (`raven-0`, `raven-1`, …) and any other unknown name: the
  offline engine, with a warning for the caller to log.

A layer that sets queries or tools but no `perception_model` turns the offline engine on.
The legacy names `ambient_awareness_queries`, `perception_tool_prompt` and
`perception_tools` are read when the new ones (`visual_awareness_queries`,
`visual_tool_prompt`, `visual_tools`) are absent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "PERCEPTION_ENGINES",
    "PerceptionConfig",
    "normalise_tools",
    "perception_config",
]

PERCEPTION_ENGINES = ("basic", "openai")
_ALIASES = {
    "opencv": "basic",
    "offline": "basic",
    "default": "basic",
    "openai-compatible": "openai",
    "vision": "openai",
}
_OFF = ("off", "none", "disabled", "false")


@dataclass(frozen=True)
class PerceptionConfig:
    #: "basic" or "openai"; None = perception is off
    engine: str | None = "basic"
    visual_awareness_queries: tuple[str, ...] = ()
    perception_analysis_queries: tuple[str, ...] = ()
    visual_tool_prompt: str = ""
    #: OpenAI function schemas ({"type": "function", "function": {...}})
    visual_tools: tuple[Mapping[str, Any], ...] = ()
    audio_tool_prompt: str = ""
    audio_tools: tuple[Mapping[str, Any], ...] = ()
    # --- the vision model (engine "openai")
    base_url: str | None = None
    api_key: str | None = None
    model: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    #: seconds one vision-model request may take
    timeout: float = 10.0
    # --- sampling (the runtime's perception layer)
    #: seconds between two looks at the camera (plus one when the user ends a turn)
    sample_interval: float = 1.0
    #: camera frames kept in the ring buffer
    ring_size: int = 8
    #: recent frames sent to the vision model and attached to a vision tool call
    frames_per_look: int = 2
    #: a `conversation.perception_tool_call` event stays under this many bytes encoded
    #: (the WebRTC data channel refuses messages over 256 KiB)
    max_event_bytes: int = 200 * 1024
    #: seconds the end-of-call analysis may take before a fallback text is sent
    analysis_timeout: float = 15.0

    @property
    def enabled(self) -> bool:
        return self.engine is not None


def perception_config(
    layer: Mapping[str, Any] | None, *, defaults: PerceptionConfig | None = None
) -> tuple[PerceptionConfig, list[str]]:
    """(config, warnings) from a persona's `layers.perception` (None = no layer = off)."""
    base = defaults or PerceptionConfig()
    warnings: list[str] = []
    if not layer:
        return replace(base, engine=None), warnings
    engine = _engine(layer, warnings)

    def strings(*names: str) -> tuple[str, ...]:
        for name in names:
            value = layer.get(name)
            if value:
                if isinstance(value, str):
                    return (value,)
                return tuple(str(v) for v in value if str(v).strip())
        return ()

    def text(*names: str) -> str:
        for name in names:
            value = layer.get(name)
            if value:
                return str(value)
        return ""

    def tools(*names: str) -> tuple[Mapping[str, Any], ...]:
        for name in names:
            value = layer.get(name)
            if value:
                return normalise_tools(value)
        return ()

    def number(name: str, default: float) -> float:
        value = layer.get(name)
        try:
            return float(value) if value is not None else default
        except (TypeError, ValueError):
            warnings.append(f"layers.perception.{name}={value!r} is not a number: ignored")
            return default

    headers = layer.get("headers") or {}
    config = PerceptionConfig(
        engine=engine,
        visual_awareness_queries=strings("visual_awareness_queries", "ambient_awareness_queries"),
        perception_analysis_queries=strings("perception_analysis_queries"),
        visual_tool_prompt=text("visual_tool_prompt", "perception_tool_prompt"),
        visual_tools=tools("visual_tools", "perception_tools"),
        audio_tool_prompt=text("audio_tool_prompt"),
        audio_tools=tools("audio_tools"),
        base_url=layer.get("base_url") or base.base_url,
        api_key=layer.get("api_key") or base.api_key,
        model=layer.get("model") or base.model,
        headers={str(k): str(v) for k, v in dict(headers).items()} or base.headers,
        timeout=number("timeout", base.timeout),
        sample_interval=max(0.1, number("sample_interval", base.sample_interval)),
        ring_size=max(1, int(number("ring_size", base.ring_size))),
        frames_per_look=max(1, int(number("frames_per_look", base.frames_per_look))),
        max_event_bytes=int(number("max_event_bytes", base.max_event_bytes)),
        analysis_timeout=number("analysis_timeout", base.analysis_timeout),
    )
    return config, warnings


def _engine(layer: Mapping[str, Any], warnings: list[str]) -> str | None:
    name = layer.get("perception_model")
    if name is None or str(name).strip() == "":
        configured = any(
            layer.get(k)
            for k in (
                "visual_awareness_queries",
                "ambient_awareness_queries",
                "perception_analysis_queries",
                "visual_tools",
                "perception_tools",
                "audio_tools",
            )
        )
        return "basic" if configured else None
    key = str(name).strip().lower()
    if key in _OFF:
        return None
    key = _ALIASES.get(key, key)
    if key in PERCEPTION_ENGINES:
        return key
    if key.startswith("raven"):
        warnings.append(
            f"perception_model {name!r} is a hosted model: using the offline 'basic' "
            "perception engine instead (or set perception_model 'openai' with a vision "
            "model's base_url/model)"
        )
    else:
        warnings.append(f"unknown perception engine {name!r}: using 'basic' instead")
    return "basic"


def normalise_tools(value: object) -> tuple[Mapping[str, Any], ...]:
    """OpenAI function schemas; a bare `{"name", "parameters"}` is wrapped. A JSON string
    (some clients send the list serialised) is parsed."""
    if isinstance(value, str):
        value = json.loads(value)
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, Sequence):
        raise ValueError("tools must be a list of OpenAI function schemas")
    out: list[Mapping[str, Any]] = []
    for tool in value:
        if not isinstance(tool, Mapping):
            raise ValueError(f"a tool must be an object, not {tool!r}")
        if "function" not in tool and "name" in tool:
            tool = {"type": "function", "function": dict(tool)}
        function = tool.get("function")
        if not isinstance(function, Mapping) or not function.get("name"):
            raise ValueError(f"a tool needs function.name: {tool!r}")
        out.append({"type": "function", **tool})
    return tuple(out)


def tool_name(tool: Mapping[str, Any]) -> str:
    return str(tool["function"]["name"])


def tool_description(tool: Mapping[str, Any]) -> str:
    return str(tool["function"].get("description") or "")


def tool_parameters(tool: Mapping[str, Any]) -> Mapping[str, Any]:
    params = tool["function"].get("parameters")
    return params if isinstance(params, Mapping) else {}
