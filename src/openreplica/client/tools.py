"""Tools the LLM can call, run by the client (SPEC §1.1 `conversation.tool_result`).

Register plain functions, sync or async. On `conversation.tool_call` the registry parses
`arguments` (a JSON string), calls the function with them as keyword arguments and
produces the `conversation.tool_result`: the return value as text (non-strings as JSON),
or `status: "error"` with the exception's message when it raises or the arguments are
not a JSON object.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from openreplica.client import messages
from openreplica.protocol import ToolCall, ToolResult

__all__ = ["ToolFunction", "ToolOutcome", "ToolRegistry"]

ToolFunction = Callable[..., Any]
F = TypeVar("F", bound=ToolFunction)


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """What running one tool call gave: the text sent back and its status."""

    tool_call_id: str
    name: str
    output: str
    status: str  # "success" | "error"

    @property
    def ok(self) -> bool:
        return self.status == "success"

    def interaction(self, conversation_id: str) -> ToolResult:
        """The `conversation.tool_result` carrying this outcome."""
        return messages.tool_result(
            conversation_id, self.tool_call_id, self.output, name=self.name, status=self.status
        )


class ToolRegistry:
    """Named Python functions the client runs when the LLM asks for them."""

    def __init__(self) -> None:
        self._tools: dict[str, ToolFunction] = {}

    @overload
    def register(self, fn: F, *, name: str | None = None) -> F: ...

    @overload
    def register(self, fn: None = None, *, name: str | None = None) -> Callable[[F], F]: ...

    def register(self, fn: F | None = None, *, name: str | None = None) -> F | Callable[[F], F]:
        """Register `fn` under `name` (default: the function's name).

        Usable plainly (`registry.register(fn)`) or as a decorator, with or without
        arguments (`@registry.register`, `@registry.register(name="get_weather")`).
        """

        def add(f: F) -> F:
            if not callable(f):
                raise TypeError(f"a tool must be callable, got {f!r}")
            key = name or getattr(f, "__name__", None)
            if not key:
                raise ValueError("give the tool a name= (it has no __name__)")
            self._tools[key] = f
            return f

        return add if fn is None else add(fn)

    def unregister(self, name: str) -> None:
        """Forget a tool (KeyError if unknown)."""
        del self._tools[name]

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[str]:
        return iter(self._tools)

    def __len__(self) -> int:
        return len(self._tools)

    def get(self, name: str) -> ToolFunction | None:
        """The function registered under `name`, if any."""
        return self._tools.get(name)

    def update(self, other: ToolRegistry) -> None:
        """Add every tool of `other` (its entries win on a name clash)."""
        self._tools.update(other._tools)

    async def run(self, call: ToolCall) -> ToolOutcome:
        """Run the tool `call` names; never raises for the tool's own failures."""
        props = call.properties
        fn = self._tools.get(props.name)

        def outcome(output: str, status: str) -> ToolOutcome:
            return ToolOutcome(props.tool_call_id, props.name, output, status)

        if fn is None:
            return outcome(f"no tool named {props.name!r} is registered", "error")
        try:
            arguments = json.loads(props.arguments) if props.arguments.strip() else {}
        except json.JSONDecodeError as exc:
            return outcome(f"arguments are not valid JSON: {exc}", "error")
        if not isinstance(arguments, dict):
            return outcome("arguments must be a JSON object", "error")
        try:
            result = fn(**arguments)
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            return outcome(str(exc) or type(exc).__name__, "error")
        try:
            return outcome(messages.output_text(result), "success")
        except (TypeError, ValueError) as exc:
            return outcome(f"the tool's result cannot be serialised: {exc}", "error")
