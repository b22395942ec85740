"""The WebSockets this node relays to conversations other nodes host, by owner.

When a node stops, uvicorn cuts its connections (1012) once the conversations it hosts
have ended. A relayed connection whose owner keeps running is better cut at once (the
client resumes through another node), but one whose owner is stopping too (every node or
every `--workers` process told to stop together) should first pass on the owner's
`system.shutdown` and 4410 close: `settle` waits, within a bound, for those.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator

__all__ = ["POLL", "RelayCensus"]

#: seconds between looks at which owners are stopping
POLL = 0.1


class RelayCensus:
    def __init__(self) -> None:
        self._owners: dict[object, str] = {}
        self._changed = asyncio.Event()

    @contextlib.contextmanager
    def relaying(self, owner: str) -> Iterator[None]:
        token = object()
        self._owners[token] = owner
        try:
            yield
        finally:
            del self._owners[token]
            self._changed.set()

    def count(self, owners: set[str] | None = None) -> int:
        """Live relays (to `owners` only, when given)."""
        return sum(1 for o in self._owners.values() if owners is None or o in owners)

    async def settle(
        self,
        keep_running: Callable[[], Awaitable[set[str]]],
        grace: float,
        notice: float = 0.5,
    ) -> None:
        """Wait up to `grace` seconds until no relay is left whose owner is not in
        `keep_running()` (the live nodes that are not draining; asked again every
        `POLL` s). Nodes told to stop together do not all mark themselves draining at
        the same instant, so relays to owners that look like they keep running are
        still given `notice` seconds."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                while self._owners:
                    keep = await keep_running()
                    waiting = any(o not in keep for o in self._owners.values())
                    if not waiting and loop.time() - start >= notice:
                        return
                    self._changed.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(POLL):
                            await self._changed.wait()
