"""The guard: a bug ends its conversation; it never stalls it silently.

DESIGN "Errors": a client that breaks the protocol gets a `system.error` and the
conversation goes on; a plugin failure becomes an engine input (`LLMFailed`,
`SpeechFailed`, …) and the conversation goes on; anything else that raises inside the
runtime is a bug, and the conversation ends with `system.shutdown` (reason
`internal_error`, SPEC §1.2 [ours]) rather than carrying on half-dead.

Every call into the engine (`watch`) and every worker task (`spawn`: the LLM stream, the
TTS workers, playout, voice input, perception, the engine's timers) runs under one guard
per conversation. The first failure is logged with its traceback and reported once to
`on_failure` (the owner ends the conversation there); later ones are usually echoes of
the first and are logged at debug level.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["INTERNAL_ERROR", "Guard", "Spawn"]

log = logging.getLogger(__name__)

#: the `shutdown_reason` of a conversation ended by a bug
INTERNAL_ERROR = "internal_error"

#: starts a worker task (the guard's `spawn`, or plain `asyncio.create_task`)
Spawn = Callable[[Coroutine[Any, Any, None], str], "asyncio.Task[None]"]


def create_task(coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    """An unguarded `Spawn`, for components used on their own."""
    return asyncio.create_task(coro, name=name)


class Guard:
    def __init__(self, conversation_id: str, on_failure: Callable[[], None]) -> None:
        self._conversation_id = conversation_id
        self._on_failure = on_failure
        self._tripped = False

    @property
    def tripped(self) -> bool:
        """A bug was met: the conversation is ending and the engine is not trusted."""
        return self._tripped

    def failed(self, where: str, exc: BaseException) -> None:
        """Record a bug met while `where`; the first one ends the conversation."""
        if self._tripped:
            log.debug("%s: also failed %s", self._conversation_id, where, exc_info=exc)
            return
        self._tripped = True
        log.error(
            "%s: internal error %s; ending the conversation (%s)",
            self._conversation_id,
            where,
            INTERNAL_ERROR,
            exc_info=exc,
        )
        self._on_failure()

    @contextmanager
    def watch(self, where: str) -> Iterator[None]:
        """Run the block; an exception in it is a bug (reported, not raised)."""
        try:
            yield
        except Exception as exc:
            self.failed(where, exc)

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Start a worker task whose unexpected exception is a bug (cancelling is not)."""
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._check)
        return task

    def _check(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.failed(f"in the task {task.get_name()!r}", exc)
