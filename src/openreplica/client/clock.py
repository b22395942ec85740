"""Time for the client, injected: the reorder buffer's bounded wait and the reconnect
backoff are the only things that wait, and both go through a `Clock`.

The shape matches the server runtime's clock (`now()`, `sleep_until(deadline)`), so a
test can drive the client with a virtual clock and no real sleeps.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

__all__ = ["Clock", "MonotonicClock"]


class Clock(Protocol):
    """A source of time in seconds and a way to sleep until a moment of it."""

    def now(self) -> float:
        """The current time in seconds (any fixed origin)."""
        ...

    async def sleep_until(self, deadline: float) -> None:
        """Return once `now() >= deadline`."""
        ...


class MonotonicClock:
    """Real time on the monotonic clock (the default)."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep_until(self, deadline: float) -> None:
        await asyncio.sleep(max(0.0, deadline - time.monotonic()))
