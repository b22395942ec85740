"""Deliver events in `seq` order, exactly once (SPEC §3 rules 1 and 7).

`ReorderBuffer` is pure (no I/O, no clock reads: `now` is an argument). Events that
arrive ahead of a missing `seq` are held for at most `max_wait` seconds; after that the
hole is reported as a `Gap`, which the connection fills by reconnecting with `last_seq`,
or, when that cannot work, gives up on with `skip()`. Events already delivered or
already held are dropped as duplicates. Events without `seq` (`system.error`) pass
straight through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

__all__ = ["Gap", "ReorderBuffer", "Sequenced"]


class Sequenced(Protocol):
    """Anything with an optional `seq`: every decoded event."""

    @property
    def seq(self) -> int | None: ...


E = TypeVar("E", bound=Sequenced)


@dataclass(frozen=True, slots=True)
class Gap:
    """Events `first`..`last` (inclusive) are missing."""

    first: int
    last: int

    def __str__(self) -> str:
        return f"seq {self.first}" if self.first == self.last else f"seq {self.first}..{self.last}"


class ReorderBuffer(Generic[E]):
    """Reorders sequenced events and drops duplicates.

    `last_seq` is the last `seq` delivered (None before the first event of a live join,
    when the first event seen fixes the starting point).
    """

    def __init__(self, max_wait: float, last_seq: int | None = None) -> None:
        if max_wait < 0:
            raise ValueError("max_wait must be >= 0")
        self.max_wait = max_wait
        self._last = last_seq
        self._held: dict[int, E] = {}
        self._waiting_since: float | None = None
        #: how many duplicate events were dropped
        self.duplicates = 0
        #: every gap given up on with `skip()`
        self.skipped: list[Gap] = []

    @property
    def last_seq(self) -> int | None:
        """The last `seq` delivered, or None if nothing was delivered yet."""
        return self._last

    @property
    def held(self) -> int:
        """How many events are waiting for a missing one."""
        return len(self._held)

    def push(self, event: E, now: float) -> list[E]:
        """Add one received event; returns the events now deliverable, in order."""
        seq = event.seq
        if seq is None:
            return [event]
        if self._last is None:
            self._last = seq - 1
        if seq <= self._last or seq in self._held:
            self.duplicates += 1
            return []
        self._held[seq] = event
        if self._waiting_since is None:
            self._waiting_since = now
        return self._release(now)

    def deadline(self) -> float | None:
        """When the wait for the missing event ends, or None if nothing is held."""
        if self._waiting_since is None:
            return None
        return self._waiting_since + self.max_wait

    def gap(self, now: float) -> Gap | None:
        """The missing range, once the bounded wait is over (else None)."""
        deadline = self.deadline()
        if deadline is None or now < deadline or self._last is None:
            return None
        return Gap(self._last + 1, min(self._held) - 1)

    def restart_wait(self, now: float) -> None:
        """Start a fresh bounded wait (after asking the server to fill the gap)."""
        if self._held:
            self._waiting_since = now

    def skip(self, now: float) -> list[E]:
        """Give up on the current gap: deliver what is held after it, in order."""
        if not self._held or self._last is None:
            return []
        first_held = min(self._held)
        self.skipped.append(Gap(self._last + 1, first_held - 1))
        self._last = first_held - 1
        return self._release(now)

    def _release(self, now: float) -> list[E]:
        ready: list[E] = []
        assert self._last is not None
        while (self._last + 1) in self._held:
            self._last += 1
            ready.append(self._held.pop(self._last))
        if not self._held:
            self._waiting_since = None
        elif ready:
            self._waiting_since = now  # progress: a fresh wait for the next hole
        return ready
