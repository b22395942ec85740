"""The bounded wait tests use instead of fixed sleeps (tests/support/eventually.py)."""

from __future__ import annotations

import itertools

import pytest
from eventually import eventually, eventually_sync


async def test_returns_the_first_truthy_value_of_a_plain_condition() -> None:
    calls = itertools.count()
    assert await eventually(lambda: next(calls) >= 3 and "ready", interval=0) == "ready"


async def test_awaits_an_async_condition() -> None:
    calls = itertools.count()

    async def ready() -> int:
        return max(0, next(calls) - 1)

    assert await eventually(ready, interval=0) == 1


async def test_fails_with_the_message_and_last_value_after_the_timeout() -> None:
    with pytest.raises(AssertionError, match=r"within 0.05 s: never.*last value: 0"):
        await eventually(lambda: 0, timeout=0.05, message="never")


def test_the_sync_variant_polls_and_fails_the_same_way() -> None:
    calls = itertools.count()
    assert eventually_sync(lambda: next(calls) >= 2 and "up", interval=0) == "up"
    with pytest.raises(AssertionError, match=r"within 0.05 s: the log says no"):
        eventually_sync(lambda: None, timeout=0.05, message=lambda: "the log says no")
