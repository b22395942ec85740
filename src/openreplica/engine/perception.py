"""Perception in the engine: the current visual context and the perception events.

The runtime's perception layer looks at the camera off the audio path and feeds what it
found as inputs (`VisualContextUpdated`, `PerceptionToolCallDetected`,
`PerceptionAnalysisReady`); the engine never waits for perception. When a user turn is
committed, the latest visual context (if any) goes

- on the user's `conversation.utterance` as `visual_context`, and
- into the LLM context, appended to that user message (`with_visual_context`), so the
  replica can answer "can you see me?" from what it saw when the user spoke. It stays in
  the history with the turn it belongs to, so earlier turns keep what was seen then (and
  a prompt cache of the history stays valid).
"""

from __future__ import annotations

from collections.abc import Callable

from openreplica.engine.io import PerceptionToolCallDetected
from openreplica.protocol import (
    AnalysisProps,
    Event,
    Frame,
    PerceptionAnalysis,
    PerceptionToolCall,
    PerceptionToolCallProps,
)

__all__ = ["VISUAL_CONTEXT_NOTE", "PerceptionState", "with_visual_context"]

#: how the visual context is introduced to the LLM, after the user's words
VISUAL_CONTEXT_NOTE = (
    "[Visual context: what you see of the user through their camera right now; "
    "they did not say this]"
)


def with_visual_context(speech: str, visual_context: str) -> str:
    """The user's message in the LLM context: their words, then what the camera shows."""
    if not visual_context:
        return speech
    return f"{speech}\n\n{VISUAL_CONTEXT_NOTE} {visual_context}"


class PerceptionState:
    def __init__(self, conversation_id: str, new_inference_id: Callable[[], str]) -> None:
        self._conversation_id = conversation_id
        self._new_inference_id = new_inference_id
        self.visual_context = ""
        self.analysis_sent = False

    def tool_call(self, item: PerceptionToolCallDetected, turn_idx: int) -> Event:
        frames = [Frame(data=data) for data in item.frames] if item.modality == "vision" else None
        return PerceptionToolCall(
            conversation_id=self._conversation_id,
            turn_idx=turn_idx,
            inference_id=self._new_inference_id(),
            properties=PerceptionToolCallProps(
                modality=item.modality, name=item.name, arguments=item.arguments, frames=frames
            ),
        )

    def analysis(self, text: str) -> Event | None:
        """The analysis event, the first time only."""
        if self.analysis_sent:
            return None
        self.analysis_sent = True
        return PerceptionAnalysis(
            conversation_id=self._conversation_id, properties=AnalysisProps(analysis=text)
        )
