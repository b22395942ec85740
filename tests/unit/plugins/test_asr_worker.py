"""PocketSphinx in a worker process: the framing, the worker's loop, and streams
against a real worker (same text as in-process, a dead worker, no orphans)."""

from __future__ import annotations

import asyncio
import io
import itertools
import os
import signal
import subprocess
import sys
import time

import pytest
from eventually import eventually

from openreplica.plugins.asr_pocketsphinx import PocketSphinxASR
from openreplica.plugins.asr_worker import (
    MAX_PAYLOAD,
    SECOND_PASS_MIN_END_FRAMES,
    SECOND_PASS_SUCCESSOR_FRAMES,
    Frame,
    FrameReader,
    Kind,
    ProtocolError,
    build_decoder,
    encode,
    main,
    serve,
)
from openreplica.plugins.audio import resample, silence
from openreplica.plugins.base import ASRStream, ASRUnavailable, Transcript
from openreplica.plugins.tts_piper import PiperTTS

RATE = 16000
KEYWORDS = ("weather", "london", "today")


def test_frames_survive_any_split_of_the_byte_stream() -> None:
    frames = [Frame(Kind.PUSH, 7, b"\x01\x02" * 300), Frame(Kind.FINISH, 7), Frame(99, 2**32 - 1)]
    data = b"".join(encode(f) for f in frames)
    for cut in (1, 5, 9, 10, 400, len(data) - 1):
        reader = FrameReader()
        assert reader.feed(data[:cut]) + reader.feed(data[cut:]) == frames
    reader = FrameReader()
    assert [f for b in data for f in reader.feed(bytes([b]))] == frames


def test_an_oversized_frame_is_refused_both_ways() -> None:
    with pytest.raises(ProtocolError):
        encode(Frame(Kind.PUSH, 1, bytes(MAX_PAYLOAD + 1)))
    header = (
        (MAX_PAYLOAD + 1).to_bytes(4, "little") + bytes([Kind.PUSH]) + (1).to_bytes(4, "little")
    )
    with pytest.raises(ProtocolError):
        FrameReader().feed(header)


def test_the_worker_loop_answers_every_request_in_order() -> None:
    grammar = "#JSGF V1.0;\ngrammar kw;\npublic <utt> = ( no | yes )*;\n"
    requests = [
        Frame(Kind.WARM, 0, b"1\n" + grammar.encode()),
        Frame(Kind.OPEN, 1, grammar.encode()),
        Frame(Kind.PUSH, 1, silence(3200)),
        Frame(Kind.FINISH, 1),
        Frame(Kind.CLOSE, 1),
        Frame(Kind.PUSH, 2, silence(320)),  # never opened
        Frame(42, 3),
    ]
    sink = io.BytesIO()
    serve(io.BytesIO(b"".join(encode(f) for f in requests)), sink)
    replies = FrameReader().feed(sink.getvalue())
    assert [(r.kind, r.stream) for r in replies] == [
        (Kind.IDLE, 0),
        (Kind.IDLE, 1),
        (Kind.PARTIAL, 1),
        (Kind.FINAL, 1),
        (Kind.IDLE, 1),
        (Kind.ERROR, 2),
        (Kind.ERROR, 3),
    ]
    assert replies[0].payload == b"1"  # warmed one decoder
    assert replies[1].payload == b"0"  # the open stream took it
    assert replies[3].payload == b""  # silence: no words
    assert replies[4].payload == b"1"  # back in the pool


@pytest.fixture(scope="module")
def question() -> bytes:
    tts = PiperTTS.default(threads=1, noise_scale=0.0, noise_w_scale=0.0)
    tts.load()

    async def run() -> bytes:
        return b"".join(
            [c.pcm async for c in tts.synthesize("What is the weather in London today?")]
        )

    speech = resample(asyncio.run(run()), tts.sample_rate, RATE)
    return silence(RATE // 2) + speech + silence(RATE // 2)


async def transcribe(stream: ASRStream, pcm: bytes) -> tuple[list[str], Transcript]:
    partials: list[str] = []
    step = 2 * 512
    for i in range(0, len(pcm), step):
        partial = await stream.push(pcm[i : i + step])
        if partial is not None:
            partials.append(partial.text)
    final = await stream.finish()
    await stream.aclose()
    return partials, final


@pytest.mark.parametrize("keywords", [KEYWORDS, None], ids=["grammar", "language-model"])
async def test_a_worker_transcribes_exactly_like_the_in_process_decoder(
    question: bytes, keywords: tuple[str, ...] | None
) -> None:
    local = PocketSphinxASR(keywords=keywords)
    remote = PocketSphinxASR(keywords=keywords, workers=1)
    try:
        expected = await transcribe(local.create_stream(), question)
        got = await transcribe(remote.create_stream(), question)
    finally:
        await remote.aclose()
    assert got == expected
    partials, final = got
    assert final.final and partials  # partials while it was spoken
    assert all(a != b for a, b in itertools.pairwise(partials))  # changes only
    assert "london" in final.text.split()
    if keywords is not None:
        assert set(final.text.split()) <= set(KEYWORDS)


async def test_the_final_pass_leaves_the_event_loop_free(question: bytes) -> None:
    """The loop's thread spends almost no CPU while the worker runs `end_utt`."""
    asr = PocketSphinxASR(workers=1)
    try:
        stream = asr.create_stream()
        await stream.push(question)
        started = time.thread_time()
        final = await stream.finish()
        loop_cpu = time.thread_time() - started
        await stream.aclose()
    finally:
        await asr.aclose()
    assert "london" in final.text
    assert loop_cpu < 0.01  # in-process, the final pass alone is 50-90 ms of it


@pytest.mark.parametrize("second_pass", [False, True])
async def test_the_second_search_pass_can_be_turned_off_in_both_modes(
    second_pass: bool,
) -> None:
    assert PocketSphinxASR().second_pass is True
    local = PocketSphinxASR(second_pass=second_pass)
    assert local.new_decoder().config["fwdflat"] is second_pass
    assert build_decoder(None, second_pass=second_pass).config["fwdflat"] is second_pass
    # the worker builds its decoders as its command line says
    remote = PocketSphinxASR(workers=1, second_pass=second_pass)
    try:
        (pid,) = [(await remote.worker()).pid]
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            args = cmdline.read().split(b"\0")
    finally:
        await remote.aclose()
    assert (b"--one-pass" in args) is not second_pass


def test_the_narrow_second_pass_hears_the_question_as_the_default_one_does(
    question: bytes,
) -> None:
    """The shipped decoder searches a narrower window in its second pass than
    PocketSphinx's default (bench/second_pass.py: a fifth less CPU, 6 of 160 transcripts
    changed): on the benchmark's question both hear the same words."""
    from pocketsphinx import Decoder

    shipped = build_decoder(None, second_pass=True)
    assert shipped.config["fwdflatsfwin"] == SECOND_PASS_SUCCESSOR_FRAMES
    assert shipped.config["fwdflatefwid"] == SECOND_PASS_MIN_END_FRAMES
    default = Decoder(samprate=RATE, loglevel="FATAL", fwdflat=True)
    assert default.config["fwdflatsfwin"] > SECOND_PASS_SUCCESSOR_FRAMES
    heard = []
    for decoder in (shipped, default):
        decoder.start_utt()
        decoder.process_raw(question, False, True)
        decoder.end_utt()
        heard.append(decoder.hyp().hypstr)
    assert heard[0] == heard[1]
    assert {"weather", "london"} <= set(heard[0].split())


def test_the_worker_refuses_an_argument_it_does_not_know() -> None:
    with pytest.raises(SystemExit, match="unknown arguments"):
        main(["--two-pass"])


async def test_closing_a_stream_gives_its_decoder_back_to_the_pool() -> None:
    asr = PocketSphinxASR(keywords=["yes", "no"], workers=1)
    try:
        await asr.awarm(1)
        assert asr.idle_decoders == 1
        a = asr.create_stream()
        await a.prepare()
        assert asr.idle_decoders == 0
        await a.push(silence(1600))
        await a.aclose()  # mid-utterance: ended, then pooled
        assert asr.idle_decoders == 1
        b = asr.create_stream()
        await b.prepare()
        assert asr.idle_decoders == 0  # the same one, not a new one
        assert (await b.finish()).text == ""
        await b.aclose()
    finally:
        await asr.aclose()


async def test_a_killed_worker_fails_its_streams_and_the_next_stream_gets_a_new_one() -> None:
    asr = PocketSphinxASR(keywords=["yes", "no"], workers=1)
    try:
        stream = asr.create_stream()
        await stream.prepare()
        [pid] = asr.worker_pids
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(ASRUnavailable):
            await stream.push(silence(1600))
        with pytest.raises(ASRUnavailable):
            await stream.finish()
        await stream.aclose()  # no error: nothing left to free
        fresh = asr.create_stream()
        assert await fresh.push(silence(1600)) is None
        assert asr.worker_pids and asr.worker_pids != [pid]
        await fresh.aclose()
    finally:
        await asr.aclose()


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_no_worker_is_left_after_aclose() -> None:
    asr = PocketSphinxASR(keywords=["yes", "no"], workers=2)
    streams = [asr.create_stream() for _ in range(3)]
    for s in streams:
        await s.prepare()
    pids = asr.worker_pids
    assert len(pids) == 2  # streams spread over both
    for s in streams:
        await s.aclose()
    await asr.aclose()
    assert all(_gone(pid) for pid in pids)
    assert asr.worker_pids == []


_PARENT = """
import asyncio, sys
from openreplica.plugins.asr_pocketsphinx import PocketSphinxASR
async def main():
    asr = PocketSphinxASR(keywords=["yes"], workers=1)
    await asr.create_stream().prepare()
    print(asr.worker_pids[0], flush=True)
    await asyncio.Event().wait()  # until killed
asyncio.run(main())
"""


async def test_a_worker_exits_when_its_server_is_killed() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT], stdout=subprocess.PIPE, env=dict(os.environ)
    )
    try:
        assert parent.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(parent.stdout.readline), 30)
        pid = int(line)
        assert not _gone(pid)
    finally:
        parent.kill()
        parent.wait()
    # its stdin closed with the parent: it exits (and init reaps it)
    await eventually(lambda: _gone(pid) or _zombie(pid), timeout=10, message="worker exited")


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1].startswith("Z")
    except FileNotFoundError:
        return True
