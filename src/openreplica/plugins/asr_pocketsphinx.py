"""CMU PocketSphinx with the en-us model shipped in the `pocketsphinx` wheel.

Weak next to neural ASR, but offline, small and streaming: partial hypotheses arrive
while the user talks, so little is left for `finish`. With a JSGF grammar (or a keyword
list, turned into one) it becomes exact and fast, which is what deterministic tests want.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from openreplica.plugins.base import ASRUnavailable, Transcript

if TYPE_CHECKING:
    from pocketsphinx import Decoder

__all__ = ["PocketSphinxASR", "PocketSphinxStream", "keywords_grammar"]

SAMPLE_RATE = 16000
#: audio is decoded in slices of this many samples (32 ms), yielding to the event loop
#: between them: pocketsphinx holds the GIL while it works, so a worker thread would
#: not keep the loop responsive and one long call would stall every conversation
_SLICE_SAMPLES = 512
#: idle decoders kept for the next streams (each is ~0.3-1 s of blocking work to build)
_POOL_MAX = 8
_GRAMMAR = "grammar"


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


def _hypothesis(decoder: Decoder) -> str:
    hyp = decoder.hyp()
    return str(hyp.hypstr).strip() if hyp is not None else ""


class PocketSphinxASR:
    """`grammar`: JSGF text restricting what can be recognised; `keywords`: shorthand
    for a grammar of any sequence of these words. Neither: the full en-us n-gram LM.

    Building a decoder loads the acoustic model and the language model (0.3-1 s, and
    it holds the GIL): finished streams return theirs to a pool, and `warm(n)` at
    server start builds the first ones before any conversation needs them.
    """

    name = "pocketsphinx"
    streams_partials = True

    def __init__(
        self, *, grammar: str | None = None, keywords: Sequence[str] | None = None
    ) -> None:
        if grammar is not None and keywords is not None:
            raise ValueError("give either grammar or keywords, not both")
        self.grammar = keywords_grammar(keywords) if keywords is not None else grammar
        try:
            import pocketsphinx  # noqa: F401
        except ImportError as exc:
            raise ASRUnavailable("pocketsphinx is not installed: pip install pocketsphinx") from exc
        self._pool: list[Decoder] = []
        self._pool_lock = threading.Lock()

    def new_decoder(self) -> Decoder:
        """A fresh decoder (blocking, 0.3-1 s): one per stream, they keep state."""
        from pocketsphinx import Decoder

        try:
            decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
            if self.grammar is not None:
                decoder.add_jsgf_string(_GRAMMAR, self.grammar)
                decoder.activate_search(_GRAMMAR)
        except (RuntimeError, ValueError) as exc:
            raise ASRUnavailable(f"pocketsphinx failed to load: {exc}") from exc
        return decoder

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
        """Build decoders ahead of time (blocking), e.g. when the server starts."""
        for _ in range(decoders):
            self.release(self.new_decoder())

    @property
    def idle_decoders(self) -> int:
        return len(self._pool)

    def create_stream(self) -> PocketSphinxStream:
        return PocketSphinxStream(self)
