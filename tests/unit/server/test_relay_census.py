"""A stopping node waits for the relayed sockets whose owner is stopping too (so they
pass on its `system.shutdown`), not for those whose owner keeps running, and never
longer than the grace."""

from __future__ import annotations

import asyncio
import time

from openreplica.server.relay_census import RelayCensus


async def test_relays_to_a_stopping_owner_are_waited_for_until_they_end() -> None:
    census = RelayCensus()
    entered, done = asyncio.Event(), asyncio.Event()

    async def relay() -> None:
        with census.relaying("b"):
            entered.set()
            await done.wait()

    task = asyncio.create_task(relay())
    await entered.wait()
    assert census.count() == 1 and census.count({"b"}) == 1 and census.count({"c"}) == 0

    async def keep_running() -> set[str]:
        return {"c"}  # b is draining

    settle = asyncio.create_task(census.settle(keep_running, grace=10, notice=0))
    finished, _ = await asyncio.wait({settle}, timeout=0.05)
    assert not finished  # still waiting for the relay to b
    done.set()
    await asyncio.wait_for(settle, 1)
    await task
    assert census.count() == 0


async def test_relays_to_a_running_owner_get_only_the_notice() -> None:
    census = RelayCensus()

    async def keep_running() -> set[str]:
        return {"b"}

    with census.relaying("b"):
        started = time.monotonic()
        await census.settle(keep_running, grace=10, notice=0.1)
        assert 0.1 <= time.monotonic() - started < 1


async def test_the_wait_is_bounded_by_the_grace() -> None:
    census = RelayCensus()

    async def keep_running() -> set[str]:
        return set()

    with census.relaying("gone"):
        started = time.monotonic()
        await census.settle(keep_running, grace=0.2, notice=0)
        assert 0.2 <= time.monotonic() - started < 1.5
