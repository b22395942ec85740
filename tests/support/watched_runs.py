"""An onnxruntime session wrapped to watch its runs: when one starts, each one's thread
CPU and outcome; with `hold` set, the next run waits at its start until `release`."""

from __future__ import annotations

import threading
import time
from typing import Any


class WatchedRuns:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.started = threading.Event()
        self.runs: list[tuple[str, float]] = []
        self.hold = False
        self.release = threading.Event()

    def run(self, output_names: Any, input_feed: Any, run_options: Any = None) -> Any:
        held, self.hold = self.hold, False
        self.started.set()
        if held:
            self.release.wait(10.0)
        cpu = time.thread_time()
        try:
            result = self.inner.run(output_names, input_feed, run_options)
        except Exception:
            self.runs.append(("stopped", time.thread_time() - cpu))
            raise
        self.runs.append(("done", time.thread_time() - cpu))
        return result
