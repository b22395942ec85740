"""A Piper synthesis no one waits for any more stops mid-sentence (the real voice).

A reply is cancelled when the user goes on speaking after a pause or barges in; its
sentence, ~60 ms of CPU a word on these machines, would otherwise run to its end on a
core the recogniser and the next reply need.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from eventually import eventually
from watched_runs import WatchedRuns

from openreplica.plugins.tts_piper import PiperTTS, StoppableSession

LONG = (
    "This sentence goes on for a good while, with many words one after another, so "
    "that speaking it takes the voice long enough to be stopped in the middle of it."
)


@pytest.fixture(scope="module")
def piper() -> PiperTTS:
    tts = PiperTTS.default(threads=1, noise_scale=0.0, noise_w_scale=0.0)
    tts.load()
    return tts


@pytest.fixture
def watched(piper: PiperTTS) -> Any:
    session = piper.load().session
    assert isinstance(session, StoppableSession)
    inner = session._session
    watch = WatchedRuns(inner)
    session._session = watch
    yield watch
    session._session = inner


async def _audio(tts: PiperTTS, text: str) -> bytes:
    return b"".join([chunk.pcm async for chunk in tts.synthesize(text)])


async def test_a_cancelled_synthesis_stops_its_sentence_mid_run(
    piper: PiperTTS, watched: WatchedRuns
) -> None:
    whole = await _audio(piper, LONG)
    ((outcome, full_cpu),) = watched.runs
    assert outcome == "done" and whole
    watched.runs.clear()
    watched.started.clear()
    stopped_before = piper.runs_stopped

    task = asyncio.create_task(_audio(piper, LONG))
    await eventually(watched.started.is_set, message="the sentence never started")
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    ((outcome, cpu),) = await eventually(lambda: list(watched.runs), message="the run never ended")
    assert outcome == "stopped"
    assert piper.runs_stopped == stopped_before + 1
    # it stopped in the middle, well before the whole sentence's work was done
    assert cpu < full_cpu / 2, (cpu, full_cpu)

    # the voice is none the worse for it: the same sentence again, sample for sample
    assert await _audio(piper, LONG) == whole


async def test_stopping_one_synthesis_leaves_another_running_at_once(
    piper: PiperTTS, watched: WatchedRuns
) -> None:
    reference = await _audio(piper, "Another conversation says this.")
    watched.started.clear()
    doomed = asyncio.create_task(_audio(piper, LONG))
    await eventually(watched.started.is_set, message="the sentence never started")
    other = asyncio.create_task(_audio(piper, "Another conversation says this."))
    doomed.cancel()
    # the options that stopped the first run belong to its thread, not to the voice
    assert await other == reference
    await asyncio.gather(doomed, return_exceptions=True)
