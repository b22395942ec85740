"""CMU PocketSphinx with the en-us model shipped in the `pocketsphinx` wheel.

Weak next to neural ASR, but offline, small and streaming: partial hypotheses arrive
while the user talks, so little is left for `finish`. With a JSGF grammar (or a keyword
list, turned into one) it becomes exact and fast, which is what deterministic tests want.

PocketSphinx holds the GIL for all its work. With `workers=0` the decoders run in this
process, on the event loop's thread (in 32 ms slices, but `finish`'s final pass is one
55-90 ms block that stalls every conversation); with `workers >= 1` (the server's
default: one) they run in that many worker processes (`asr_worker`), and the loop only
passes audio and text through a pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from openreplica.plugins.asr_worker import MAX_PAYLOAD, Kind, WorkerClient, build_decoder
from openreplica.plugins.base import ASRUnavailable, Transcript

if TYPE_CHECKING:
    from pocketsphinx import Decoder

__all__ = ["PocketSphinxASR", "PocketSphinxStream", "PocketSphinxWorkerStream", "keywords_grammar"]

SAMPLE_RATE = 16000
#: audio is decoded in slices of this many samples (32 ms), yielding to the event loop
#: between them: pocketsphinx holds the GIL while it works, so a worker thread would
#: not keep the loop responsive and one long call would stall every conversation
_SLICE_SAMPLES = 512
#: idle decoders kept for the next streams (each is ~0.3-1 s of blocking work to build)
_POOL_MAX = 8
#: worker mode: the most audio one push sends (10 s); a longer push keeps its newest
#: audio (drop-oldest), so a stalled stream cannot queue unbounded audio at the worker
MAX_PUSH_BYTES = 2 * SAMPLE_RATE * 10


def keywords_grammar(words: Sequence[str]) -> str:
    """A JSGF grammar accepting any sequence of the given words."""
    clean = sorted({w.strip().lower() for w in words if w.strip()})
    bad = [w for w in clean if not re.fullmatch(r"[a-z']+", w)]
    if not clean or bad:
        raise ValueError(f"keywords must be plain lower-case words, got {list(words)!r}")
    return f"#JSGF V1.0;\ngrammar kw;\npublic <utt> = ( {' | '.join(clean)} )*;\n"


class PocketSphinxStream:
    """One recogniser; utterances start on the first `push` after `finish`.

    It takes a decoder from the model's pool on `prepare` (or the first `push`) and
    gives it back on `aclose`. Call it from the event loop's thread.
    """

    def __init__(self, model: PocketSphinxASR) -> None:
        self._model = model
        self._decoder: Decoder | None = None
        self._in_utt = False
        self._last_partial = ""
        # push and finish must never interleave on the decoder
        self._lock = asyncio.Lock()

    async def prepare(self) -> None:
        """Get a decoder now, before the user speaks (blocking if the pool is empty)."""
        async with self._lock:
            self._ensure_decoder()

    def _ensure_decoder(self) -> Decoder:
        if self._decoder is None:
            self._decoder = self._model.acquire()
        return self._decoder

    async def push(self, pcm16k: bytes) -> Transcript | None:
        if not pcm16k:
            return None
        async with self._lock:
            decoder = self._ensure_decoder()
            if not self._in_utt:
                decoder.start_utt()
                self._in_utt = True
            usable = len(pcm16k) - len(pcm16k) % 2
            step = 2 * _SLICE_SAMPLES
            for i in range(0, usable, step):
                if i:
                    await asyncio.sleep(0)  # let the loop breathe between slices
                decoder.process_raw(pcm16k[i : min(i + step, usable)], False, False)
            text = _hypothesis(decoder)
        if text == self._last_partial:
            return None
        self._last_partial = text
        return Transcript(text, final=False)

    async def finish(self) -> Transcript:
        async with self._lock:
            decoder = self._decoder
            text = ""
            if decoder is not None and self._in_utt:
                self._in_utt = False
                decoder.end_utt()  # tens of ms: the final search pass
                text = _hypothesis(decoder)
        self._last_partial = ""
        return Transcript(text, final=True)

    async def aclose(self) -> None:
        async with self._lock:
            decoder, self._decoder = self._decoder, None
            if decoder is not None:
                if self._in_utt:
                    decoder.end_utt()
                self._model.release(decoder)
            self._in_utt = False


class PocketSphinxWorkerStream:
    """The same stream with its decoder in a worker process: `push` sends the audio and
    awaits the worker's hypothesis (the loop stays free meanwhile; the voice path joins
    audio that arrives in the meantime into the next push). A worker that dies raises
    ASRUnavailable here; the next stream gets a new worker."""

    def __init__(self, model: PocketSphinxASR, stream_id: int) -> None:
        self._model = model
        self._id = stream_id
        self._client: WorkerClient | None = None
        self._in_utt = False
        self._last_partial = ""
        self._lock = asyncio.Lock()

    async def prepare(self) -> None:
        """Get a decoder in the worker now, before the user speaks."""
        async with self._lock:
            await self._ensure_client()

    async def _ensure_client(self) -> WorkerClient:
        if self._client is None:
            client = await self._model.worker()
            self._client = client
            client.open_streams += 1
            await client.request(Kind.OPEN, self._id, (self._model.grammar or "").encode())
        return self._client

    async def push(self, pcm16k: bytes) -> Transcript | None:
        if not pcm16k:
            return None
        pcm = pcm16k[-MAX_PUSH_BYTES:]
        pcm = pcm[: len(pcm) - len(pcm) % 2]
        async with self._lock:
            client = await self._ensure_client()
            self._in_utt = True
            reply = None
            for i in range(0, len(pcm), MAX_PAYLOAD):
                reply = await client.request(Kind.PUSH, self._id, pcm[i : i + MAX_PAYLOAD])
            text = reply.payload.decode() if reply is not None else self._last_partial
        if text == self._last_partial:
            return None
        self._last_partial = text
        return Transcript(text, final=False)

    async def finish(self) -> Transcript:
        async with self._lock:
            text = ""
            if self._client is not None and self._in_utt:
                self._in_utt = False
                text = (await self._client.request(Kind.FINISH, self._id)).payload.decode()
        self._last_partial = ""
        return Transcript(text, final=True)

    async def aclose(self) -> None:
        async with self._lock:
            client, self._client = self._client, None
            self._in_utt = False
            if client is None:
                return
            client.open_streams -= 1
            if client.alive:
                with contextlib.suppress(ASRUnavailable):  # it died: nothing to free
                    await client.request(Kind.CLOSE, self._id)


def _hypothesis(decoder: Decoder) -> str:
    hyp = decoder.hyp()
    return str(hyp.hypstr).strip() if hyp is not None else ""


class PocketSphinxASR:
    """`grammar`: JSGF text restricting what can be recognised; `keywords`: shorthand
    for a grammar of any sequence of these words. Neither: the full en-us n-gram LM.
    `second_pass`: run PocketSphinx's second search when an utterance ends (off: the
    final is ~40 ms sooner, no less accurate on our sets, but the end-of-turn cues were
    fitted on the second pass's words; see `build_decoder`).

    Building a decoder loads the acoustic model and the language model (0.3-1 s, and
    it holds the GIL): finished streams return theirs to a pool, and `warm(n)` at
    server start builds the first ones before any conversation needs them.
    """

    name = "pocketsphinx"
    streams_partials = True

    def __init__(
        self,
        *,
        grammar: str | None = None,
        keywords: Sequence[str] | None = None,
        workers: int = 0,
        second_pass: bool = True,
    ) -> None:
        if grammar is not None and keywords is not None:
            raise ValueError("give either grammar or keywords, not both")
        if workers < 0:
            raise ValueError(f"workers must be >= 0, got {workers}")
        #: 0: decoders in this process (on the loop's thread); n: in n worker processes
        self.workers = workers
        self.second_pass = second_pass
        self._clients: list[WorkerClient] = []
        self._start_lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self.finish_holds_loop = workers == 0
        self._next_id = 0
        self.grammar = keywords_grammar(keywords) if keywords is not None else grammar
        try:
            import pocketsphinx  # noqa: F401
        except ImportError as exc:
            raise ASRUnavailable("pocketsphinx is not installed: pip install pocketsphinx") from exc
        self._pool: list[Decoder] = []
        self._pool_lock = threading.Lock()

    def new_decoder(self) -> Decoder:
        """A fresh decoder (blocking, 0.3-1 s): one per stream, they keep state."""
        try:
            return build_decoder(self.grammar, second_pass=self.second_pass)
        except (RuntimeError, ValueError) as exc:
            raise ASRUnavailable(f"pocketsphinx failed to load: {exc}") from exc

    def acquire(self) -> Decoder:
        """An idle decoder from the pool, or a new one."""
        with self._pool_lock:
            if self._pool:
                return self._pool.pop()
        return self.new_decoder()

    def release(self, decoder: Decoder) -> None:
        """Give back a decoder that is not inside an utterance."""
        with self._pool_lock:
            if len(self._pool) < _POOL_MAX:
                self._pool.append(decoder)

    def warm(self, decoders: int = 1) -> None:
        """Build decoders ahead of time (blocking), e.g. when the server starts. In
        worker mode this does nothing: `awarm` starts the workers."""
        if self.workers:
            return
        for _ in range(decoders):
            self.release(self.new_decoder())

    async def awarm(self, decoders: int = 1) -> None:
        """`warm` without blocking the loop: starts the workers and has each build
        `decoders` (in-process mode: `warm` in a thread)."""
        if not self.workers:
            await asyncio.to_thread(self.warm, decoders)
            return
        payload = f"{decoders}\n{self.grammar or ''}".encode()
        for _ in range(self.workers):
            await (await self.worker()).request(Kind.WARM, 0, payload)

    @property
    def idle_decoders(self) -> int:
        """Pooled decoders (worker mode: as the workers last reported)."""
        if self.workers:
            return sum(c.idle_decoders for c in self._clients if c.alive)
        return len(self._pool)

    @property
    def worker_pids(self) -> list[int]:
        return [c.pid for c in self._clients if c.alive]

    def _loop_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._start_lock is None or self._start_lock[0] is not loop:
            self._start_lock = (loop, asyncio.Lock())
        return self._start_lock[1]

    async def worker(self) -> WorkerClient:
        """The live worker with the fewest streams, started (or restarted) as needed."""
        loop = asyncio.get_running_loop()
        async with self._loop_lock():
            keep: list[WorkerClient] = []
            for client in self._clients:
                if client.loop is loop and client.alive:
                    keep.append(client)
                elif client.loop is not loop:
                    client.kill()  # left behind by a loop that is gone
            self._clients = keep
            if len(keep) < self.workers:
                try:
                    client = await WorkerClient.start(second_pass=self.second_pass)
                except OSError as exc:
                    raise ASRUnavailable(f"could not start the ASR worker: {exc}") from exc
                self._clients.append(client)
                return client
            return min(keep, key=lambda c: c.open_streams)

    async def aclose(self) -> None:
        """Stop the worker processes (with the server)."""
        clients, self._clients = self._clients, []
        loop = asyncio.get_running_loop()
        for client in clients:
            if client.loop is loop:
                await client.aclose()
            else:
                client.kill()

    def create_stream(self) -> PocketSphinxStream | PocketSphinxWorkerStream:
        if self.workers:
            self._next_id += 1
            return PocketSphinxWorkerStream(self, self._next_id)
        return PocketSphinxStream(self)
