"""Honouring a cancellation that a library below swallowed.

On Python 3.11, `asyncio.wait_for` returns the result of an operation that completed in
the same loop iteration as its task was cancelled, and the cancellation is lost
(python/cpython#86296; 3.12 rewrote `wait_for`). redis-py wraps the send of every
command in `wait_for` whenever a socket timeout is set, which it is by default, so a
task cancelled while it sends a Redis command may go on as if it had not been. A loop
that only ends when it is cancelled (following an event stream, reading a relay inbox
or pipe, heartbeats) would then run forever, and so would whoever awaits its end: a
relayed WebSocket, then the stopping server holding its process.

Such loops call `raise_if_cancelled` after each Redis call: the task is still running
although it was asked to stop, so the request was swallowed, and it is honoured there.
"""

from __future__ import annotations

import asyncio

__all__ = ["raise_if_cancelled"]


def raise_if_cancelled() -> None:
    """Raise `CancelledError` when the current task has a cancellation request that it
    did not act on (`Task.cancelling()`)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
