"""The two kinds of thread behind the daily-shaped client.

- `IoThread`: runs one asyncio loop (WebRTC, the data channel) for a call client, so the
  application's threads never need an event loop.
- `CallbackThread`: runs event-handler methods and completions one at a time, in order,
  on a thread of its own, as daily-python calls them from its worker thread and never
  from the caller's. A callback that raises is logged and the next one runs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["CallbackThread", "IoThread"]

log = logging.getLogger(__name__)
T = TypeVar("T")

_STOP = object()


class CallbackThread:
    def __init__(self, name: str = "openreplica-daily-callbacks") -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def ident(self) -> int | None:
        return self._thread.ident

    def call(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn(*args)` on the callback thread, after everything queued before it."""
        self._queue.put((fn, args))

    def stop(self, timeout: float = 5.0) -> None:
        self._queue.put(_STOP)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            fn, args = item
            try:
                fn(*args)
            except Exception:
                log.exception("a daily callback (%s) raised", getattr(fn, "__name__", fn))


class IoThread:
    def __init__(self, name: str = "openreplica-daily-io") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule `coro` on the loop; its result or error arrives in the future."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self, timeout: float = 5.0) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.close()
