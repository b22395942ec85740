"""Counters of how user turns ended and what preemptive replies cost (for metrics)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TurnDecider = Literal["model", "silence"]


@dataclass(slots=True)
class TurnStats:
    #: committed spoken turns whose end the end-of-turn model decided ("complete")
    decided_by_model: int = 0
    #: committed spoken turns ended by a silence timer (the fixed pause, or the cap)
    decided_by_silence: int = 0
    #: sum of the waits (end of the user's speech -> commit), seconds
    total_wait: float = 0.0
    #: replies started at a pause before the turn was committed
    preemptive_started: int = 0
    #: …of which the committed turn used
    preemptive_used: int = 0
    #: …and those cancelled: the user went on, or the turn changed before it committed
    preemptive_wasted: int = 0

    def committed(self, decided_by: TurnDecider, wait: float) -> None:
        if decided_by == "model":
            self.decided_by_model += 1
        else:
            self.decided_by_silence += 1
        self.total_wait += wait
