"""A bounded wait for a condition: poll it until it holds or a deadline passes.

Tests use it instead of fixed sleeps: the wait ends as soon as the condition holds, and
a condition that never holds fails with a clear message after `timeout` seconds rather
than hanging. The condition may be a plain function or return an awaitable.

    await eventually(lambda: server.rss_mb() < 300, timeout=5, message="memory freed")

`eventually_sync` is the same wait for code that is not async (a fixture starting a
process): it blocks the thread between tries.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast, overload

T = TypeVar("T")

__all__ = ["eventually", "eventually_sync"]


@overload
async def eventually(
    condition: Callable[[], Awaitable[T | None]],
    *,
    timeout: float = 5.0,
    interval: float = 0.02,
    message: str = "",
) -> T: ...


@overload
async def eventually(
    condition: Callable[[], T | None],
    *,
    timeout: float = 5.0,
    interval: float = 0.02,
    message: str = "",
) -> T: ...


async def eventually(
    condition: Callable[[], T | Awaitable[T | None] | None],
    *,
    timeout: float = 5.0,
    interval: float = 0.02,
    message: str = "",
) -> T:
    """Poll `condition()` every `interval` seconds; return its first truthy value.

    Raises AssertionError (with `message` and the last value seen) when it is still
    falsy after `timeout` seconds; the condition is always tried at least once.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return cast(T, value)
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"condition not met within {timeout:g} s"
                + (f": {message}" if message else "")
                + f" (last value: {value!r})"
            )
        await asyncio.sleep(min(interval, max(0.0, deadline - time.monotonic())))


def eventually_sync(
    condition: Callable[[], T],
    *,
    timeout: float = 5.0,
    interval: float = 0.05,
    message: str | Callable[[], str] = "",
) -> T:
    """`eventually` for synchronous code; `message` may be a function (called only when
    the wait fails, e.g. to read a log)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(
                f"condition not met within {timeout:g} s"
                + (f": {text}" if text else "")
                + f" (last value: {value!r})"
            )
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
