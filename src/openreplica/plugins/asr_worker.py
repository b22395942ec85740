"""PocketSphinx decoders in a worker process, so they never hold the server's GIL.

PocketSphinx holds the GIL for all its work: in the server process its streaming pass
(~12 % of a core per talking user) and its final pass (`end_utt`, 55-90 ms in one block)
would stall the event loop of every conversation. Here a child process
(`openreplica.plugins.asr_worker.main`) owns the decoders and serves many streams
multiplexed by stream id over its stdin/stdout, so the final pass runs on another core.

The protocol: frames of `<length u32><kind u8><stream u32><payload>` (little-endian,
payload at most `MAX_PAYLOAD` bytes). The worker handles requests one at a time, in
order, and answers each with exactly one frame, so the client matches replies to
requests with one FIFO. Requests: OPEN (payload: the JSGF grammar, empty for the
n-gram LM) -> IDLE, PUSH (16 kHz s16le) -> PARTIAL (the hypothesis so far), FINISH ->
FINAL, CLOSE -> IDLE, WARM (payload: a count) -> IDLE; IDLE's payload is the worker's
count of pooled decoders; any failure -> ERROR (a message). The worker exits when its
stdin closes, so a server that dies leaves no worker behind. Its command line says how
its decoders search (`--one-pass`: see `build_decoder`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
import sys
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from openreplica.plugins.base import ASRUnavailable

if TYPE_CHECKING:
    from pocketsphinx import Decoder

__all__ = [
    "MAX_PAYLOAD",
    "SAMPLE_RATE",
    "SECOND_PASS_MIN_END_FRAMES",
    "SECOND_PASS_SUCCESSOR_FRAMES",
    "Frame",
    "FrameReader",
    "Kind",
    "ProtocolError",
    "WorkerClient",
    "build_decoder",
    "encode",
    "serve",
]

#: the largest payload of one frame (32 s of 16 kHz audio); longer pushes are split
MAX_PAYLOAD = 1 << 20
_HEADER = struct.Struct("<IBI")
SAMPLE_RATE = 16000
#: idle decoders the worker keeps per grammar
_POOL_MAX = 8
_GRAMMAR = "grammar"
#: The second pass looks for a word's successors within 5 frames of where the first pass
#: ended it, among words the first pass ended in at least 2 frames (PocketSphinx's
#: defaults: 25 and 4).
#: On the larger synthetic set (160 utterances, `bench/second_pass.py`) this takes a
#: fifth off the final pass's CPU and changes 6 of 160 transcripts, word errors 15.2 →
#: 15.0 %: a successor starting more than 5 frames (50 ms) from a word's end is rarely
#: the one chosen, and looking that far costs a fifth of the final pass's CPU.
SECOND_PASS_SUCCESSOR_FRAMES = 5
SECOND_PASS_MIN_END_FRAMES = 2


class Kind:
    OPEN = 1
    PUSH = 2
    FINISH = 3
    CLOSE = 4
    WARM = 5
    PARTIAL = 11
    FINAL = 12
    IDLE = 13
    ERROR = 14


class ProtocolError(ValueError):
    """A malformed or oversized frame."""


@dataclass(frozen=True, slots=True)
class Frame:
    kind: int
    stream: int
    payload: bytes = b""


def encode(frame: Frame) -> bytes:
    if len(frame.payload) > MAX_PAYLOAD:
        raise ProtocolError(f"payload of {len(frame.payload)} bytes > {MAX_PAYLOAD}")
    return _HEADER.pack(len(frame.payload), frame.kind, frame.stream) + frame.payload


class FrameReader:
    """Incremental decoder: `feed` bytes as they come, get whole frames back."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= _HEADER.size:
            length, kind, stream = _HEADER.unpack_from(self._buffer)
            if length > MAX_PAYLOAD:
                raise ProtocolError(f"frame of {length} bytes > {MAX_PAYLOAD}")
            end = _HEADER.size + length
            if len(self._buffer) < end:
                break
            frames.append(Frame(kind, stream, bytes(self._buffer[_HEADER.size : end])))
            del self._buffer[:end]
        return frames


def build_decoder(grammar: str | None, *, second_pass: bool) -> Decoder:
    """A decoder for `grammar` (JSGF; None or "": the en-us n-gram LM), blocking 0.3-1 s.

    `second_pass`: PocketSphinx's flat-lexicon search over the whole utterance when it
    ends (`fwdflat`, over `SECOND_PASS_SUCCESSOR_FRAMES`). It is most of what the final
    waits for (~45 ms of CPU for a 2.4 s question, against ~7 ms for the tree search's
    best path alone) and changes the words of about a third of the utterances of our
    speech sets, no more of them wrong; the end-of-turn cue model was fitted on its
    words (docs/voice.md)."""
    from pocketsphinx import Decoder

    decoder = Decoder(
        samprate=SAMPLE_RATE,
        loglevel="FATAL",
        fwdflat=second_pass,
        fwdflatsfwin=SECOND_PASS_SUCCESSOR_FRAMES,  # (unused without the second pass)
        fwdflatefwid=SECOND_PASS_MIN_END_FRAMES,
    )
    if grammar:
        decoder.add_jsgf_string(_GRAMMAR, grammar)
        decoder.activate_search(_GRAMMAR)
    return decoder


# --- the worker process ---------------------------------------------------------


class _Decoders:
    """The worker's decoders: one per open stream, idle ones pooled per grammar."""

    def __init__(self, *, second_pass: bool) -> None:
        self._second_pass = second_pass
        self._idle: dict[str, list[Decoder]] = {}
        self._open: dict[int, tuple[str, Decoder, bool]] = {}  # grammar, decoder, in utt

    def idle(self) -> int:
        return sum(len(v) for v in self._idle.values())

    def _new(self, grammar: str) -> Decoder:
        return build_decoder(grammar, second_pass=self._second_pass)

    def warm(self, grammar: str, count: int) -> None:
        pool = self._idle.setdefault(grammar, [])
        while len(pool) < min(count, _POOL_MAX):
            pool.append(self._new(grammar))

    def open(self, stream: int, grammar: str) -> None:
        if stream in self._open:
            return
        pool = self._idle.get(grammar)
        decoder = pool.pop() if pool else self._new(grammar)
        self._open[stream] = (grammar, decoder, False)

    def push(self, stream: int, pcm: bytes) -> str:
        grammar, decoder, in_utt = self._open[stream]
        if not in_utt:
            decoder.start_utt()
            self._open[stream] = (grammar, decoder, True)
        decoder.process_raw(pcm[: len(pcm) - len(pcm) % 2], False, False)
        return _hypothesis(decoder)

    def finish(self, stream: int) -> str:
        opened = self._open.get(stream)
        if opened is None or not opened[2]:
            return ""
        grammar, decoder, _ = opened
        self._open[stream] = (grammar, decoder, False)
        decoder.end_utt()
        return _hypothesis(decoder)

    def close(self, stream: int) -> None:
        opened = self._open.pop(stream, None)
        if opened is None:
            return
        grammar, decoder, in_utt = opened
        if in_utt:
            decoder.end_utt()
        pool = self._idle.setdefault(grammar, [])
        if len(pool) < _POOL_MAX:
            pool.append(decoder)


def _hypothesis(decoder: Decoder) -> str:
    hyp = decoder.hyp()
    return str(hyp.hypstr).strip() if hyp is not None else ""


def _frames(source: BinaryIO) -> Iterator[Frame]:
    reader = FrameReader()
    while True:
        data = source.read1(65536) if hasattr(source, "read1") else source.read(65536)
        if not data:
            return
        yield from reader.feed(data)


def _handle(decoders: _Decoders, frame: Frame) -> Frame:
    stream = frame.stream
    if frame.kind == Kind.OPEN:
        decoders.open(stream, frame.payload.decode())
        return Frame(Kind.IDLE, stream, str(decoders.idle()).encode())
    if frame.kind == Kind.PUSH:
        return Frame(Kind.PARTIAL, stream, decoders.push(stream, frame.payload).encode())
    if frame.kind == Kind.FINISH:
        return Frame(Kind.FINAL, stream, decoders.finish(stream).encode())
    if frame.kind == Kind.CLOSE:
        decoders.close(stream)
        return Frame(Kind.IDLE, stream, str(decoders.idle()).encode())
    if frame.kind == Kind.WARM:
        count_text, _, grammar = frame.payload.decode().partition("\n")
        decoders.warm(grammar, int(count_text))
        return Frame(Kind.IDLE, stream, str(decoders.idle()).encode())
    raise ProtocolError(f"unknown request kind {frame.kind}")


def serve(source: BinaryIO, sink: BinaryIO, *, second_pass: bool = True) -> None:
    """The worker's loop: requests from `source`, one reply each to `sink`, until EOF."""
    decoders = _Decoders(second_pass=second_pass)
    for frame in _frames(source):
        try:
            reply = _handle(decoders, frame)
        except Exception as exc:  # reported to the stream; the worker carries on
            reply = Frame(Kind.ERROR, frame.stream, f"{type(exc).__name__}: {exc}".encode())
        sink.write(encode(reply))
        sink.flush()


# --- the server side ------------------------------------------------------------

_CHILD = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from openreplica.plugins.asr_worker import main; main(sys.argv[2:])"
)
_ONE_PASS = "--one-pass"


class WorkerClient:
    """One worker process, used from one event loop: `request` sends a frame and awaits
    its reply without blocking the loop. When the worker dies every pending and later
    request raises ASRUnavailable; the owner starts a new client."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self._pending: deque[asyncio.Future[Frame]] = deque()
        self._dead: str | None = None
        self._loop = asyncio.get_running_loop()
        self._reader = asyncio.create_task(self._read(), name="asr-worker-reader")
        self.idle_decoders = 0
        self.open_streams = 0

    @classmethod
    async def start(cls, *, second_pass: bool = True) -> WorkerClient:
        """A new worker whose decoders search as `build_decoder` says."""
        # the child imports this package from where the server did
        root = str(Path(__file__).resolve().parents[2])
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _CHILD,
            root,
            *([] if second_pass else [_ONE_PASS]),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return cls(process)

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    @property
    def alive(self) -> bool:
        return self._dead is None

    async def _read(self) -> None:
        stdout = self._process.stdout
        assert stdout is not None
        reader = FrameReader()
        why = "the ASR worker stopped"
        try:
            while data := await stdout.read(65536):
                for frame in reader.feed(data):
                    if not self._pending:
                        raise ProtocolError("a reply nobody asked for")
                    future = self._pending.popleft()
                    if not future.done():
                        future.set_result(frame)
        except (ProtocolError, OSError) as exc:
            why = f"the ASR worker's replies broke: {exc}"
        finally:
            self._fail(why)

    def _fail(self, why: str) -> None:
        if self._dead is None:
            self._dead = why
        while self._pending:
            future = self._pending.popleft()
            if not future.done():
                future.set_exception(ASRUnavailable(self._dead))

    async def request(self, kind: int, stream: int, payload: bytes = b"") -> Frame:
        """Send one request and await its reply; ERROR replies raise ASRUnavailable."""
        if self._dead is not None:
            raise ASRUnavailable(self._dead)
        stdin = self._process.stdin
        assert stdin is not None
        future: asyncio.Future[Frame] = self._loop.create_future()
        self._pending.append(future)
        try:
            stdin.write(encode(Frame(kind, stream, payload)))
            await stdin.drain()
        except (OSError, RuntimeError) as exc:  # the pipe closed under us
            self._fail(f"the ASR worker stopped: {exc}")
        reply = await future
        if reply.kind == Kind.ERROR:
            raise ASRUnavailable(f"pocketsphinx failed: {reply.payload.decode(errors='replace')}")
        if reply.kind == Kind.IDLE:
            with contextlib.suppress(ValueError):
                self.idle_decoders = int(reply.payload)
        return reply

    def kill(self) -> None:
        """Stop it now (tests; a client left behind by a closed loop)."""
        with contextlib.suppress(ProcessLookupError):
            self._process.kill()

    async def aclose(self, timeout: float = 2.0) -> None:
        """Close its stdin (it exits), wait for it, kill it if it lingers."""
        self._fail("the ASR worker was stopped")
        stdin = self._process.stdin
        if stdin is not None and not stdin.is_closing():
            stdin.close()
        try:
            await asyncio.wait_for(self._process.wait(), timeout)
        except TimeoutError:
            self.kill()
            await self._process.wait()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


def main(args: Sequence[str] = ()) -> None:
    """The worker process's entry point; `args`: its command line after the root."""
    unknown = [a for a in args if a != _ONE_PASS]
    if unknown:
        raise SystemExit(f"asr_worker: unknown arguments {unknown}")
    # the protocol gets its own copy of stdout; anything the C library prints goes to stderr
    sink = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.stdin.buffer, sink, second_pass=_ONE_PASS not in args)


if __name__ == "__main__":
    main(sys.argv[1:])
