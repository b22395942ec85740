"""Tool calls the client runs: which are waiting for a result, and when the turn can go on.

The LLM continues the turn once the generation that asked for the tools has finished
speaking and every one of its calls has a result. A new turn or an interruption cancels
calls still waiting; a result that arrives for one of them is refused with a clear error.
"""

from __future__ import annotations

from dataclasses import dataclass

from openreplica.engine.phases import TOOL_CALL, CallEvent, CallPhase

CallSpec = tuple[str, str, str]  # (tool_call_id, name, arguments)


@dataclass(slots=True)
class _Call:
    call_id: str
    name: str
    arguments: str
    turn_idx: int
    phase: CallPhase = CallPhase.ASKED
    #: the client's output (set on `CallEvent.RESULT`)
    result: str = ""

    def on(self, event: CallEvent) -> None:
        self.phase = TOOL_CALL.fire(self.phase, event)

    @property
    def in_context(self) -> bool:
        """The generation that asked finished, so the call is in the LLM context."""
        return self.phase is CallPhase.SPOKEN or self.phase is CallPhase.READY


class ToolCalls:
    def __init__(self) -> None:
        self._waiting: dict[str, _Call] = {}
        self._cancelled: set[str] = set()

    def called(self, call_id: str, name: str, arguments: str, turn_idx: int) -> None:
        self._waiting[call_id] = _Call(call_id, name, arguments, turn_idx)

    def calls_of(self, call_ids: list[str]) -> tuple[CallSpec, ...]:
        calls = (self._waiting.get(i) for i in call_ids)
        return tuple((c.call_id, c.name, c.arguments) for c in calls if c is not None)

    def generation_finished(self, call_ids: list[str]) -> None:
        for call_id in dict.fromkeys(call_ids):  # an id the LLM repeated counts once
            call = self._waiting.get(call_id)
            if call is not None:
                call.on(CallEvent.ASKER_DONE)

    def result(self, call_id: str, name: str, output: str) -> str | None:
        """Record a result; returns a description of the problem if it is refused."""
        call = self._waiting.get(call_id)
        if call is None:
            if call_id in self._cancelled:
                return (
                    f"tool call {call_id!r} was cancelled (the replica was interrupted or a "
                    "new turn began) before its result arrived"
                )
            return f"no tool call {call_id!r} is waiting for a result"
        if call.phase is CallPhase.ANSWERED or call.phase is CallPhase.READY:
            return f"tool call {call_id!r} already has a result"
        call.on(CallEvent.RESULT)
        call.result = output
        if name:
            call.name = name
        return None

    def take_ready(self) -> tuple[int, list[tuple[str, str, str]]] | None:
        """(turn_idx, [(id, name, output)]) once every waiting call can go to the LLM."""
        calls = list(self._waiting.values())
        if not calls or not all(c.phase is CallPhase.READY for c in calls):
            return None
        self._waiting.clear()
        return calls[0].turn_idx, [(c.call_id, c.name, c.result) for c in calls]

    def cancel_all(self) -> list[tuple[str, str]]:
        """Cancel the waiting calls already in the LLM context; returns (id, name) of each."""
        cancelled = [(c.call_id, c.name) for c in self._waiting.values() if c.in_context]
        self._cancelled.update(self._waiting)
        self._waiting.clear()
        return cancelled
