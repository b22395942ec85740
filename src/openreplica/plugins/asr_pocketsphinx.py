"""CMU PocketSphinx with the en-us model shipped in the `pocketsphinx` wheel.

Weak next to neural ASR, but offline, small and streaming: partial hypotheses arrive
while the user talks. With a JSGF grammar (or a keyword list, turned into one) it
becomes exact and fast, which is what deterministic tests want.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from openreplica.plugins.base import ASRUnavailable, Transcript

if TYPE_CHECKING:
    from pocketsphinx import Decoder

__all__ = ["PocketSphinxASR", "PocketSphinxStream", "keywords_grammar"]

SAMPLE_RATE = 16000
#: pushes longer than this (in samples) are decoded in a worker thread
_INLINE_SAMPLES = SAMPLE_RATE // 4
_GRAMMAR = "grammar"


def keywords_grammar(words: Sequence[str]) -> str:
    """A JSGF grammar accepting any sequence of the given words."""
    clean = sorted({w.strip().lower() for w in words if w.strip()})
    bad = [w for w in clean if not re.fullmatch(r"[a-z']+", w)]
    if not clean or bad:
        raise ValueError(f"keywords must be plain lower-case words, got {list(words)!r}")
    return f"#JSGF V1.0;\ngrammar kw;\npublic <utt> = ( {' | '.join(clean)} )*;\n"


class PocketSphinxStream:
    """One recogniser; utterances start on the first `push` after `finish`."""

    def __init__(self, model: PocketSphinxASR) -> None:
        self._model = model
        self._decoder: Decoder | None = None
        self._in_utt = False
        self._last_partial = ""
        # push (maybe in a thread) and finish must never touch the decoder at once
        self._lock = asyncio.Lock()

    async def push(self, pcm16k: bytes) -> Transcript | None:
        if not pcm16k:
            return None
        async with self._lock:
            if self._decoder is None:
                # Loading takes ~0.3 s: keep it off the event loop.
                self._decoder = await asyncio.to_thread(self._model.new_decoder)
            if len(pcm16k) // 2 > _INLINE_SAMPLES:
                text = await asyncio.to_thread(self._process, self._decoder, pcm16k)
            else:
                text = self._process(self._decoder, pcm16k)
        if text == self._last_partial:
            return None
        self._last_partial = text
        return Transcript(text, final=False)

    async def finish(self) -> Transcript:
        async with self._lock:
            decoder = self._decoder
            if decoder is None or not self._in_utt:
                self._last_partial = ""
                return Transcript("", final=True)
            text = await asyncio.to_thread(self._end, decoder)
        self._in_utt = False
        self._last_partial = ""
        return Transcript(text, final=True)

    async def aclose(self) -> None:
        async with self._lock:
            if self._decoder is not None and self._in_utt:
                self._decoder.end_utt()
            self._decoder = None
            self._in_utt = False

    def _process(self, decoder: Decoder, pcm: bytes) -> str:
        if not self._in_utt:
            decoder.start_utt()
            self._in_utt = True
        decoder.process_raw(pcm[: len(pcm) - len(pcm) % 2], False, False)
        hyp = decoder.hyp()
        return str(hyp.hypstr).strip() if hyp is not None else ""

    @staticmethod
    def _end(decoder: Decoder) -> str:
        decoder.end_utt()
        hyp = decoder.hyp()
        return str(hyp.hypstr).strip() if hyp is not None else ""


class PocketSphinxASR:
    """`grammar`: JSGF text restricting what can be recognised; `keywords`: shorthand
    for a grammar of any sequence of these words. Neither: the full en-us n-gram LM.
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

    def new_decoder(self) -> Decoder:
        """A fresh decoder (blocking, ~0.3 s): one per stream, they keep state."""
        from pocketsphinx import Decoder

        try:
            decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
            if self.grammar is not None:
                decoder.add_jsgf_string(_GRAMMAR, self.grammar)
                decoder.activate_search(_GRAMMAR)
        except (RuntimeError, ValueError) as exc:
            raise ASRUnavailable(f"pocketsphinx failed to load: {exc}") from exc
        return decoder

    def create_stream(self) -> PocketSphinxStream:
        return PocketSphinxStream(self)
