"""A Smart Turn run no one waits for any more is stopped (the real model).

The early decision at a pause is moot once the user goes on speaking; its run, ~80 ms
of CPU on a CPU without VNNI, would otherwise go on in its worker thread beside the
recogniser's second decoding of the segment and the next reply. The stop sets the
run's onnxruntime `terminate`, which onnxruntime checks between nodes (a Piper run
stopped that way ends mid-sentence: test_piper_stop.py). Here a run is held at its
start until the stop is set, so what is tested (the run's own options carry the stop,
and only its own) does not depend on how fast this machine is.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
from eventually import eventually
from turn_model import turn_model_path
from watched_runs import WatchedRuns

from openreplica.plugins.base import RunStop, RunStopped
from openreplica.plugins.turn_smart import SmartTurnModel


@pytest.fixture(scope="module")
def model() -> SmartTurnModel:
    return SmartTurnModel(turn_model_path())


@pytest.fixture
def watched(model: SmartTurnModel) -> Any:
    inner = model._session
    watch = WatchedRuns(inner)
    model._session = watch
    yield watch
    model._session = inner


def _speechlike(seconds: float) -> bytes:
    """A voiced sound in syllables: something for the model to chew on."""
    t = np.arange(round(seconds * 16000)) / 16000
    wave = sum(np.sin(2 * np.pi * k * 130.0 * t) / k for k in range(1, 8))
    wave = wave * np.sin(np.pi * t / 0.2) ** 2
    return (0.2 * wave * 32767).astype("<i2").tobytes()


def test_a_stopped_run_ends_early_and_the_model_is_none_the_worse(
    model: SmartTurnModel, watched: WatchedRuns
) -> None:
    audio = _speechlike(2.0)
    whole = model.completion_probability(audio)
    ((outcome, full_cpu),) = watched.runs
    assert outcome == "done" and 0.0 <= whole <= 1.0
    watched.runs.clear()
    watched.started.clear()

    stop = RunStop()
    raised: list[BaseException] = []

    def run() -> None:
        try:
            model.completion_probability(audio, stop)
        except BaseException as exc:
            raised.append(exc)

    watched.hold = True
    thread = threading.Thread(target=run)
    thread.start()
    started = watched.started.wait(10.0)
    stop.stop()  # while the run is under way (held at its start)
    watched.release.set()
    thread.join(10.0)
    assert started and not thread.is_alive()
    assert len(raised) == 1 and isinstance(raised[0], RunStopped), raised
    ((outcome, cpu),) = watched.runs
    assert outcome == "stopped"
    # onnxruntime gave up at once, well before the whole run's work was done
    assert cpu < full_cpu / 2, (cpu, full_cpu)

    # the same audio again, with a stop never set: the same answer
    assert model.completion_probability(audio, RunStop()) == whole


def test_a_stop_set_before_the_run_begins_skips_it(
    model: SmartTurnModel, watched: WatchedRuns
) -> None:
    stop = RunStop()
    stop.stop()
    with pytest.raises(RunStopped):
        model.completion_probability(_speechlike(1.0), stop)
    assert watched.runs == []


async def test_stopping_one_run_leaves_another_conversations_run_alone(
    model: SmartTurnModel, watched: WatchedRuns
) -> None:
    audio = _speechlike(1.5)
    reference = model.completion_probability(audio)
    watched.runs.clear()
    watched.started.clear()
    doomed, other = RunStop(), RunStop()
    results: dict[str, object] = {}

    def run(name: str, stop: RunStop) -> None:
        try:
            results[name] = model.completion_probability(audio, stop)
        except RunStopped as exc:
            results[name] = exc

    watched.hold = True
    first = threading.Thread(target=run, args=("doomed", doomed))
    first.start()
    await eventually(watched.started.is_set, message="the first run never started")
    doomed.stop()
    second = threading.Thread(target=run, args=("other", other))
    second.start()
    second.join(10.0)
    watched.release.set()
    first.join(10.0)
    # the options that stopped the first run belong to that run, not to the model
    assert isinstance(results["doomed"], RunStopped)
    assert results["other"] == reference
