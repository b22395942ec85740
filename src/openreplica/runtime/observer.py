"""What one conversation reports as it runs, for metrics and traces.

The runtime calls an observer at the few points where something worth counting or
timing happens; every time it passes is the runtime's injected clock, so an observer
never reads a clock itself. The server's metrics and tracing implement this; the default
does nothing. Calls come on the event loop thread and must return quickly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from openreplica.protocol import Event

__all__ = ["NULL_OBSERVER", "NullObserver", "Observers", "RuntimeObserver"]


class RuntimeObserver(Protocol):
    def event_sent(self, event: Event, now: float) -> None:
        """A sequenced or broadcast event went to the conversation's subscribers."""

    def interaction_refused(self, code: str) -> None:
        """An interaction was answered with a `system.error` to its sender only."""

    def plugin_failed(self, code: str) -> None:
        """A plugin failure was broadcast (`llm_unavailable`, `tts_unavailable`, …)."""

    def llm_started(self, gen: int, now: float) -> None:
        """The LLM was asked for generation `gen` (a turn's reply)."""

    def llm_first_token(self, gen: int, now: float) -> None: ...

    def llm_ended(self, gen: int, now: float, error: str | None) -> None:
        """The LLM stream of `gen` finished, failed (`error`) or was cancelled."""

    def tts_started(self, gen: int, segment: int, now: float) -> None: ...

    def tts_first_audio(self, gen: int, segment: int, now: float) -> None: ...

    def tts_ended(self, gen: int, segment: int, now: float, error: str | None) -> None: ...

    def playout_cut(self, gen: int, now: float, silent_at: float) -> None:
        """Speech being heard was cut at `now`; the last audio handed out ends at
        `silent_at` (interrupt → silence)."""

    def closed(self, now: float) -> None:
        """The conversation shut down: nothing more will be reported."""


class NullObserver:
    """Observes nothing (the default)."""

    def event_sent(self, event: Event, now: float) -> None:
        pass

    def interaction_refused(self, code: str) -> None:
        pass

    def plugin_failed(self, code: str) -> None:
        pass

    def llm_started(self, gen: int, now: float) -> None:
        pass

    def llm_first_token(self, gen: int, now: float) -> None:
        pass

    def llm_ended(self, gen: int, now: float, error: str | None) -> None:
        pass

    def tts_started(self, gen: int, segment: int, now: float) -> None:
        pass

    def tts_first_audio(self, gen: int, segment: int, now: float) -> None:
        pass

    def tts_ended(self, gen: int, segment: int, now: float, error: str | None) -> None:
        pass

    def playout_cut(self, gen: int, now: float, silent_at: float) -> None:
        pass

    def closed(self, now: float) -> None:
        pass


NULL_OBSERVER: RuntimeObserver = NullObserver()


class Observers:
    """Several observers as one (metrics and traces), called in order."""

    def __init__(self, observers: Sequence[RuntimeObserver]) -> None:
        self._all = tuple(observers)

    def event_sent(self, event: Event, now: float) -> None:
        for o in self._all:
            o.event_sent(event, now)

    def interaction_refused(self, code: str) -> None:
        for o in self._all:
            o.interaction_refused(code)

    def plugin_failed(self, code: str) -> None:
        for o in self._all:
            o.plugin_failed(code)

    def llm_started(self, gen: int, now: float) -> None:
        for o in self._all:
            o.llm_started(gen, now)

    def llm_first_token(self, gen: int, now: float) -> None:
        for o in self._all:
            o.llm_first_token(gen, now)

    def llm_ended(self, gen: int, now: float, error: str | None) -> None:
        for o in self._all:
            o.llm_ended(gen, now, error)

    def tts_started(self, gen: int, segment: int, now: float) -> None:
        for o in self._all:
            o.tts_started(gen, segment, now)

    def tts_first_audio(self, gen: int, segment: int, now: float) -> None:
        for o in self._all:
            o.tts_first_audio(gen, segment, now)

    def tts_ended(self, gen: int, segment: int, now: float, error: str | None) -> None:
        for o in self._all:
            o.tts_ended(gen, segment, now, error)

    def playout_cut(self, gen: int, now: float, silent_at: float) -> None:
        for o in self._all:
            o.playout_cut(gen, now, silent_at)

    def closed(self, now: float) -> None:
        for o in self._all:
            o.closed(now)
