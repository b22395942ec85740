"""The `system.replica_present` heartbeat schedule (SPEC §1.2 [added]).

Pure: the engine asks for the next beat's deadline and whether one is due at `now`.
A beat missed while the loop was busy is not made up for: the next one is planned from
`now`, so a stalled process never sends a burst of heartbeats.
"""

from __future__ import annotations

__all__ = ["Heartbeat"]


class Heartbeat:
    def __init__(self, interval: float) -> None:
        #: seconds between beats; 0 (or less) = no heartbeat
        self.interval = interval
        self.deadline: float | None = None

    def start(self, now: float) -> None:
        """The replica joined: the first beat is one interval later."""
        if self.interval > 0:
            self.deadline = now + self.interval

    def stop(self) -> None:
        self.deadline = None

    def due(self, now: float) -> bool:
        """True when a beat is due at `now` (and plans the next one)."""
        if self.deadline is None or now < self.deadline:
            return False
        self.deadline += self.interval
        if self.deadline <= now:
            self.deadline = now + self.interval
        return True
