"""Smart Turn v3: does the user's speech so far sound like a finished turn?

An ONNX model (BSD-2-Clause, by Daily; `openreplica models pull turn` fetches it) over
Whisper-style log-mel features of the last 8 s of the turn's 16 kHz audio
(`turn_features.py`). Its single output is the probability that the turn is complete.
One decision is about 10-20 ms of CPU: callers run `completion_probability` in a worker
thread, never on the event loop.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from openreplica.plugins.audio import pcm16_to_float
from openreplica.plugins.turn_features import log_mel

__all__ = ["SmartTurnModel"]


class SmartTurnModel:
    """Loaded once, shared by every conversation (it keeps no per-turn state)."""

    name = "smart_turn"

    def __init__(self, path: Path, threads: int = 1) -> None:
        if not path.is_file():
            raise FileNotFoundError(
                f"no end-of-turn model at {path}: run `openreplica models pull turn`"
            )
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.path = path
        self._session = ort.InferenceSession(
            str(path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self._input = self._session.get_inputs()[0].name

    def completion_probability(self, pcm16k: bytes) -> float:
        """P(the turn is complete) for the turn's 16 kHz mono 16-bit audio up to now."""
        features = log_mel(pcm16_to_float(pcm16k))[np.newaxis]
        (out,) = self._session.run(None, {self._input: features})[:1]
        return float(np.asarray(out).reshape(-1)[0])
