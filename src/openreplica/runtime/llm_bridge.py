"""Between the engine's LLM vocabulary and the LLM plugin's."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from openreplica.engine import io as e
from openreplica.plugins.base import LLM, ChatMessage, PluginError, TextDelta, ToolCallRequest


def chat_messages(messages: Sequence[e.ContextMessage]) -> list[ChatMessage]:
    return [
        ChatMessage(
            role=m.role,
            content=m.content,
            tool_calls=tuple(ToolCallRequest(i, n, a) for i, n, a in m.tool_calls),
            tool_call_id=m.tool_call_id,
            name=m.name,
        )
        for m in messages
    ]


async def stream_generation(
    llm: LLM,
    gen: int,
    messages: Sequence[ChatMessage],
    tools: Sequence[Mapping[str, Any]],
    feed: Callable[[e.EngineInput], None],
) -> None:
    """Stream one generation into the engine; any failure becomes `LLMFailed`."""
    try:
        async for delta in llm.stream(messages, tools):
            if isinstance(delta, TextDelta):
                if delta.text:
                    feed(e.LLMToken(gen, delta.text))
            else:
                feed(e.LLMToolCall(gen, delta.id, delta.name, delta.arguments))
    except asyncio.CancelledError:
        raise
    except PluginError as exc:
        feed(e.LLMFailed(gen, str(exc)))
        return
    except Exception as exc:  # a plugin bug must not stall the conversation
        feed(e.LLMFailed(gen, f"the LLM plugin failed: {exc!r}"))
        return
    feed(e.LLMFinished(gen))
