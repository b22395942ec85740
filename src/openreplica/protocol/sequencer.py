"""The sequencer and the retained event log (SPEC §3).

The sequencer is the one place a conversation's broadcast events get their `seq` and
`timestamp`. Time is an argument: nothing here reads a clock.

Rules kept here:
- `seq` starts at 1 (or after the last persisted one) and grows by exactly 1.
- `timestamp` never decreases as `seq` grows, even if the caller's clock steps back.
- `system.*` events carry no `turn_idx`; turn-related events without one get the current
  turn (the highest turn seen so far, 0 before the first).
- `system.error` is a reply to one sender and is never sequenced.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from itertools import islice
from typing import TypeVar

import msgspec

from openreplica.protocol.events import ErrorEvent, Event

DEFAULT_RETAINED_EVENTS = 10_000

E = TypeVar("E", bound=Event)


class EventLog:
    """The last `capacity` sequenced events of one conversation, for replay."""

    def __init__(self, capacity: int = DEFAULT_RETAINED_EVENTS) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._events: deque[Event] = deque(maxlen=capacity)

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self._events)

    @property
    def first_seq(self) -> int | None:
        """The oldest retained `seq`, or None when empty."""
        return self._events[0].seq if self._events else None

    @property
    def last_seq(self) -> int:
        """The newest `seq`, 0 when nothing was logged."""
        if not self._events:
            return 0
        return self._events[-1].seq or 0

    def append(self, event: Event) -> None:
        if event.seq is None:
            raise ValueError("only sequenced events are logged")
        if self._events and event.seq != self.last_seq + 1:
            raise ValueError(f"seq {event.seq} does not follow {self.last_seq}")
        self._events.append(event)

    def covers(self, after_seq: int) -> bool:
        """True when every event after `after_seq` is still retained."""
        first = self.first_seq
        return first is None or after_seq >= first - 1

    def replay(self, after_seq: int) -> list[Event]:
        """Every retained event with `seq > after_seq`, in order."""
        first = self.first_seq
        if first is None:
            return []
        start = max(0, after_seq - first + 1)
        return list(islice(self._events, start, None))


class Sequencer:
    """Stamps one conversation's broadcast events and logs them."""

    def __init__(
        self,
        conversation_id: str,
        *,
        capacity: int = DEFAULT_RETAINED_EVENTS,
        last_seq: int = 0,
        last_timestamp: float = 0.0,
        turn_idx: int = 0,
    ) -> None:
        self.conversation_id = conversation_id
        self.log = EventLog(capacity)
        self._last_seq = last_seq
        self._last_timestamp = last_timestamp
        self._turn_idx = turn_idx

    @property
    def last_seq(self) -> int:
        return self._last_seq

    @property
    def turn_idx(self) -> int:
        return self._turn_idx

    def stamp(self, event: E, now: float) -> E:
        """Return `event` with `seq`, `timestamp` and `turn_idx` set, and log it."""
        if isinstance(event, ErrorEvent):
            raise ValueError("system.error is a reply to one sender and is never sequenced")
        if event.conversation_id != self.conversation_id:
            raise ValueError(
                f"event for {event.conversation_id!r} given to the sequencer of "
                f"{self.conversation_id!r}"
            )
        self._last_seq += 1
        self._last_timestamp = max(self._last_timestamp, now)
        turn_idx: int | None
        if event.TURN_RELATED:
            turn_idx = self._turn_idx if event.turn_idx is None else event.turn_idx
            self._turn_idx = max(self._turn_idx, turn_idx)
        else:
            turn_idx = None
        stamped = msgspec.structs.replace(
            event, seq=self._last_seq, timestamp=self._last_timestamp, turn_idx=turn_idx
        )
        self.log.append(stamped)
        return stamped
