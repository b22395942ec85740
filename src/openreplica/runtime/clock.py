"""The one place time is read. Tests replace `SystemClock` with `VirtualClock`, so a
30-second conversation runs in milliseconds with no real sleeps."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Unix epoch seconds."""
        ...

    async def sleep_until(self, deadline: float) -> None: ...


class SystemClock:
    """Wall-clock time; sleeps are measured on the monotonic clock so that a wall-clock
    step (NTP) cannot stretch or skip a deadline."""

    def __init__(self) -> None:
        self._offset = time.time() - time.monotonic()

    def now(self) -> float:
        return time.monotonic() + self._offset

    async def sleep_until(self, deadline: float) -> None:
        delay = deadline - self.now()
        await asyncio.sleep(max(0.0, delay))


class VirtualClock:
    """Time that moves only when a test says so (trio's MockClock, for asyncio).

    `advance(seconds)` wakes every sleeper whose deadline falls inside the step, in
    deadline order, letting the event loop run between wakes so each woken task can
    schedule its next sleep before time moves on.
    """

    def __init__(self, start: float = 1_764_000_000.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    async def sleep_until(self, deadline: float) -> None:
        if deadline <= self._now:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (deadline, next(self._order), future))
        await future

    async def advance(self, seconds: float) -> None:
        target = self._now + seconds
        await settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            if not future.done():
                future.set_result(None)
                await settle()
        self._now = max(self._now, target)
        await settle()

    @property
    def next_deadline(self) -> float | None:
        live = [d for d, _, f in self._sleepers if not f.done()]
        return min(live) if live else None


async def settle(rounds: int = 20) -> None:
    """Let ready tasks run until they block (on a sleep, a queue, a future)."""
    for _ in range(rounds):
        await asyncio.sleep(0)
