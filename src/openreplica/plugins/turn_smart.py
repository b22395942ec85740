"""Smart Turn v3: does the user's speech so far sound like a finished turn?

An ONNX model (BSD-2-Clause, by Daily; `openreplica models pull turn` fetches it) over
Whisper-style log-mel features of the last 8 s of the turn's 16 kHz audio
(`turn_features.py`). Its single output is the probability that the turn is complete.
Beside it, the words: `sentence_end_probability` asks PocketSphinx's trigram language
model whether a sentence ends after the transcript's last two words (`turn_text.py`).
The graph runs rewritten (`turn_graph.py`, in memory at load, ~0.2 s of CPU once; the
shipped graph if the rewrite fails or disagrees on a check input): the same int8
arithmetic, its attention softmax in float between the op's own quantisation steps.
One audio decision on the synthetic set's 1-4 s clips, thread CPU on this project's
shared 2-core AMD EPYC at load 1.6-2.4 (`bench/turn_model_check.py`): p50 16.7-17.1 ms,
p95 18.6-19.2 (features ~0.6 of it), against 25.6-26.9 / 30.6-30.8 for the shipped graph
and the features as first written (~2 ms). Callers run `completion_probability` in a
worker thread, never on the event loop.

The model is very sensitive to tiny input changes: ±1 of 32768 of dither on the audio
moves its probability by up to 0.59 (p95 0.27) on that set; the rewritten graph moves it
as much (up to 0.66, p95 0.24), one quantisation step of a softmax value here and there.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from openreplica.plugins.audio import pcm16_to_float
from openreplica.plugins.base import RunStop, RunStopped
from openreplica.plugins.turn_features import log_mel
from openreplica.plugins.turn_graph import Rewrites, fast_session
from openreplica.plugins.turn_text import SentenceEndLM, default_lm_path

__all__ = ["CHECK_TOLERANCE", "SmartTurnModel"]

log = logging.getLogger(__name__)

#: the faster graph runs only if its probability on a check input is this close to the
#: shipped graph's (on the synthetic speech set the two differ by at most ~0.01)
CHECK_TOLERANCE = 0.03
FloatArray = npt.NDArray[np.float32]


def _check_audio() -> FloatArray:
    """2 s of a voice-like signal (a 140 Hz buzz with a 3 Hz syllable rhythm), fixed."""
    t = np.arange(32000, dtype=np.float64) / 16000
    voiced = 0.3 * np.sign(np.sin(2 * np.pi * 140 * t)) * (1 + np.sin(2 * np.pi * 3 * t))
    noise = 0.02 * np.sin(2 * np.pi * 2771 * t * t)
    audio: FloatArray = (voiced + noise).astype(np.float32)
    return audio


class SmartTurnModel:
    """Loaded once, shared by every conversation (it keeps no per-turn state)."""

    name = "smart_turn"

    def __init__(
        self,
        path: Path,
        threads: int = 1,
        *,
        text: SentenceEndLM | bool | None = True,
        fast: bool = True,
    ) -> None:
        """`text`: the language model for the words (True: PocketSphinx's, if installed;
        False or None: audio only). `fast`: run the rewritten graph (`turn_graph.py`)
        once it has given the shipped graph's answer on a check input."""
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
        #: what the faster graph rewrote (None: the model runs as shipped)
        self.rewrites: Rewrites | None = None
        if fast:
            self._use_fast_graph(threads)
        self.text: SentenceEndLM | None = None
        if isinstance(text, SentenceEndLM):
            self.text = text
        elif text is True and (lm_path := default_lm_path()) is not None:
            self.text = SentenceEndLM(lm_path)

    def _use_fast_graph(self, threads: int) -> None:
        try:
            session, rewrites = fast_session(self.path, threads)
            check = log_mel(_check_audio())[np.newaxis]
            want = self._run(self._session, check)
            got = self._run(session, check)
        except Exception:
            log.exception("the end-of-turn model's faster graph failed: running it as shipped")
            return
        if abs(want - got) > CHECK_TOLERANCE:
            log.warning(
                "the end-of-turn model's faster graph says %.3f where the shipped one says "
                "%.3f: running it as shipped",
                got,
                want,
            )
            return
        self._session, self.rewrites = session, rewrites

    def _run(
        self, session: ort.InferenceSession, features: FloatArray, stop: RunStop | None = None
    ) -> float:
        options = ort.RunOptions()
        if stop is not None:
            # onnxruntime checks `terminate` between nodes: the run ends within a node
            stop.on_stop(lambda: setattr(options, "terminate", True))
            if stop.stopped:
                raise RunStopped("the end-of-turn model's run was stopped before it began")
        try:
            (out,) = session.run(None, {self._input: features}, options)[:1]
        except Exception as exc:
            if stop is not None and stop.stopped:
                raise RunStopped("the end-of-turn model's run was stopped") from exc
            raise
        return float(np.asarray(out).reshape(-1)[0])

    def completion_probability(self, pcm16k: bytes, stop: RunStop | None = None) -> float:
        """P(the turn is complete) for the turn's 16 kHz mono 16-bit audio up to now;
        `RunStopped` once `stop` is set (the run ends at onnxruntime's next node)."""
        return self.features_probability(log_mel(pcm16_to_float(pcm16k)), stop)

    def features_probability(self, features: FloatArray, stop: RunStop | None = None) -> float:
        """P(the turn is complete) for (80, 800) features already computed."""
        return self._run(self._session, features[np.newaxis], stop)

    def sentence_end_probability(self, text: str) -> float | None:
        return self.text.end_probability(text) if self.text is not None else None
