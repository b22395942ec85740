"""The LLM context of one conversation: the persona's prompt, the conversational context
(what `overwrite`/`append` change) and the history of what was said and *heard*."""

from __future__ import annotations

from openreplica.engine.io import ContextMessage


class LLMContext:
    """`max_history` bounds the history kept for the LLM (the oldest turns go first), so
    a long conversation neither outgrows the model's window nor costs more per turn."""

    def __init__(self, system_prompt: str, context: str = "", max_history: int = 200) -> None:
        if max_history < 1:
            raise ValueError("max_history must be at least 1")
        self._system_prompt = system_prompt
        self._context = context
        self._max_history = max_history
        self._history: list[ContextMessage] = []

    @property
    def context(self) -> str:
        return self._context

    @property
    def history(self) -> tuple[ContextMessage, ...]:
        return tuple(self._history)

    def restore(self, context: str, history: tuple[ContextMessage, ...]) -> None:
        """Continue from a saved state (another process ran the conversation before)."""
        self._context = context
        self._history = list(history[-self._max_history :])

    def overwrite(self, context: str) -> None:
        self._context = context

    def append(self, context: str) -> None:
        self._context = f"{self._context}\n{context}" if self._context else context

    def add_user(self, text: str) -> None:
        self._append(ContextMessage(role="user", content=text))

    def add_replica(self, text: str, tool_calls: tuple[tuple[str, str, str], ...] = ()) -> None:
        """What the replica said — only the words the user heard — and the tools it called."""
        if text or tool_calls:
            self._append(ContextMessage(role="assistant", content=text, tool_calls=tool_calls))

    def add_tool_result(self, tool_call_id: str, name: str, output: str) -> None:
        self._append(
            ContextMessage(role="tool", content=output, tool_call_id=tool_call_id, name=name)
        )

    def _append(self, message: ContextMessage) -> None:
        self._history.append(message)
        if len(self._history) <= self._max_history:
            return
        del self._history[: len(self._history) - self._max_history]
        # Start at a user message: a tool result or tool call cut from its partner would
        # make the request invalid for OpenAI-style APIs.
        first_user = next(
            (i for i, m in enumerate(self._history) if m.role == "user"), len(self._history)
        )
        del self._history[:first_user]

    def messages(self) -> tuple[ContextMessage, ...]:
        system = self._system_prompt
        if self._context:
            system = f"{system}\n\n{self._context}" if system else self._context
        head = (ContextMessage(role="system", content=system),) if system else ()
        return head + tuple(self._history)
