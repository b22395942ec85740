"""The LLM context of one conversation: the persona's prompt, the conversational context
(what `overwrite`/`append` change) and the history of what was said and *heard*."""

from __future__ import annotations

from openreplica.engine.io import ContextMessage


class LLMContext:
    def __init__(self, system_prompt: str, context: str = "") -> None:
        self._system_prompt = system_prompt
        self._context = context
        self._history: list[ContextMessage] = []

    @property
    def context(self) -> str:
        return self._context

    @property
    def history(self) -> tuple[ContextMessage, ...]:
        return tuple(self._history)

    def overwrite(self, context: str) -> None:
        self._context = context

    def append(self, context: str) -> None:
        self._context = f"{self._context}\n{context}" if self._context else context

    def add_user(self, text: str) -> None:
        self._history.append(ContextMessage(role="user", content=text))

    def add_replica(self, text: str, tool_calls: tuple[tuple[str, str, str], ...] = ()) -> None:
        """What the replica said — only the words the user heard — and the tools it called."""
        if text or tool_calls:
            self._history.append(
                ContextMessage(role="assistant", content=text, tool_calls=tool_calls)
            )

    def add_tool_result(self, tool_call_id: str, name: str, output: str) -> None:
        self._history.append(
            ContextMessage(role="tool", content=output, tool_call_id=tool_call_id, name=name)
        )

    def messages(self) -> tuple[ContextMessage, ...]:
        system = self._system_prompt
        if self._context:
            system = f"{system}\n\n{self._context}" if system else self._context
        head = (ContextMessage(role="system", content=system),) if system else ()
        return head + tuple(self._history)
