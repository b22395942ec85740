"""Silero VAD run directly with onnxruntime (never `import silero_vad`: it imports torch).

The model is the ONNX file shipped in the `silero-vad` wheel. Since v5 it takes a
64-sample context (the tail of the previous window) prepended to each 512-sample window
at 16 kHz, and a recurrent state of shape (2, 1, 128); both are per stream.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from openreplica.plugins.audio import pcm16_to_float

__all__ = ["SileroVAD", "SileroVADStream", "find_silero_model"]

SAMPLE_RATE = 16000
WINDOW = 512
CONTEXT = 64


def find_silero_model() -> Path:
    """Path of `silero_vad/data/silero_vad.onnx` without importing the package."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the silero-vad package is not installed: pip install --no-deps silero-vad"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.onnx"
    if not path.is_file():
        raise FileNotFoundError(f"silero-vad is installed but {path} is missing")
    return path


class SileroVADStream:
    """Per-conversation recurrent state over one shared InferenceSession."""

    frame_samples: int = WINDOW

    def __init__(self, session: ort.InferenceSession) -> None:
        self._session = session
        self._sr = np.array(SAMPLE_RATE, dtype=np.int64)
        self._state: npt.NDArray[np.float32] = np.zeros((2, 1, 128), dtype=np.float32)
        self._context: npt.NDArray[np.float32] = np.zeros(CONTEXT, dtype=np.float32)

    def speech_probability(self, frame: bytes) -> float:
        samples = pcm16_to_float(frame)
        if samples.size != WINDOW:
            raise ValueError(f"silero VAD takes {WINDOW} samples, got {samples.size}")
        x = np.concatenate([self._context, samples])[np.newaxis, :]
        out, state = self._session.run(None, {"input": x, "state": self._state, "sr": self._sr})
        self._state = np.asarray(state, dtype=np.float32)
        self._context = samples[-CONTEXT:].copy()
        return float(np.asarray(out).reshape(-1)[0])

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)


class SileroVAD:
    """The Silero model, loaded once; `create_stream` is cheap."""

    name = "silero"

    def __init__(self, model_path: Path | None = None, threads: int = 1) -> None:
        path = model_path if model_path is not None else find_silero_model()
        opts = ort.SessionOptions()
        # One window is ~0.2 ms of work: threading it only adds contention.
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(path), sess_options=opts, providers=["CPUExecutionProvider"]
        )

    def create_stream(self) -> SileroVADStream:
        return SileroVADStream(self._session)
