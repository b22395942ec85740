"""The OpenAI chat wire format, shared by every LLM backend that speaks it.

`to_openai_messages` turns our `ChatMessage`s into request messages; `ToolCallAssembler`
joins the fragments in which streaming servers send tool calls (the id and name come
first, the JSON arguments arrive in pieces, several calls interleave by `index`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from openreplica.plugins.base import ChatMessage, ToolCallRequest

__all__ = ["ToolCallAssembler", "to_openai_messages"]


def to_openai_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Our `ChatMessage`s in the OpenAI wire shape, tool calls and results included."""
    out: list[dict[str, Any]] = []
    for m in messages:
        msg: dict[str, Any] = {"role": m.role, "content": m.content}
        if m.role == "assistant" and m.tool_calls:
            msg["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in m.tool_calls
            ]
            # OpenAI wants null (not "") content next to tool calls.
            msg["content"] = m.content or None
        if m.role == "tool":
            msg["tool_call_id"] = m.tool_call_id or ""
        elif m.name is not None:
            msg["name"] = m.name
        out.append(msg)
    return out


@dataclass
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: str = ""


class ToolCallAssembler:
    """Accumulates streamed tool-call fragments; `finish` returns the whole calls."""

    def __init__(self) -> None:
        self._calls: dict[int, _PartialCall] = {}

    def add(self, index: int, id: str | None, name: str | None, arguments: str | None) -> None:
        call = self._calls.setdefault(index, _PartialCall())
        call.id = call.id or (id or "")
        call.name += name or ""
        call.arguments += arguments or ""

    def finish(self) -> list[ToolCallRequest]:
        """The calls in index order. Raises ValueError if one never got a name."""
        out: list[ToolCallRequest] = []
        for index in sorted(self._calls):
            call = self._calls[index]
            if not call.name:
                raise ValueError(f"tool call #{index} has no function name")
            out.append(ToolCallRequest(call.id or f"call_{index}", call.name, call.arguments))
        self._calls.clear()
        return out
