"""Running a .tflite model: OpenCV's DNN module by default, LiteRT when asked.

OpenCV (already a dependency) reads these TFLite graphs directly and matches LiteRT's
outputs within 1e-4 (tests/unit/avatar/test_facemesh.py checks this against
`ai-edge-litert` from the dev extra); LiteRT is faster but is a 60 MB optional install.
Inputs and outputs are NHWC float32 as in the TFLite graph, whichever runtime runs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

__all__ = ["Runtime", "TFLiteModel", "load_tflite"]

Runtime = Literal["opencv", "litert"]
F32 = NDArray[np.float32]


class TFLiteModel(Protocol):
    def run(self, x: F32) -> dict[str, F32]:
        """Outputs by tensor name for one NHWC float32 input batch of 1."""
        ...


class _OpenCVModel:
    def __init__(self, path: Path) -> None:
        self._net = cv2.dnn.readNetFromTFLite(str(path))
        self._names = list(self._net.getUnconnectedOutLayersNames())

    def run(self, x: F32) -> dict[str, F32]:
        self._net.setInput(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        outs = self._net.forward(self._names)
        # OpenCV hands 4-D outputs back as NCHW; give them back in TFLite's NHWC.
        return {
            n: np.asarray(o.transpose(0, 2, 3, 1) if o.ndim == 4 else o, np.float32)
            for n, o in zip(self._names, outs, strict=True)
        }


class _LiteRTModel:
    def __init__(self, path: Path) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self._it = Interpreter(model_path=str(path), num_threads=1)
        self._it.allocate_tensors()
        self._input = self._it.get_input_details()[0]["index"]
        self._outputs = [(d["name"], d["index"]) for d in self._it.get_output_details()]

    def run(self, x: F32) -> dict[str, F32]:
        self._it.set_tensor(self._input, np.ascontiguousarray(x, np.float32))
        self._it.invoke()
        return {n: np.array(self._it.get_tensor(i), np.float32) for n, i in self._outputs}


def load_tflite(path: Path, runtime: Runtime = "opencv") -> TFLiteModel:
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} is missing: run `openreplica models pull face`")
    if runtime == "litert":
        try:
            return _LiteRTModel(path)
        except ImportError as exc:
            raise RuntimeError("LiteRT is not installed: pip install ai-edge-litert") from exc
    return _OpenCVModel(path)
