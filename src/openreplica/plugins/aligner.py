"""Visemes for TTS engines that do not time their phonemes: forced alignment.

pocketsphinx (already the offline ASR) aligns the known text to the audio, phone by
phone, at 10 ms resolution; CMU phones map to the same seven visemes as Piper's. About
0.4 s to load once, then a few tens of ms per second of audio.

`AlignedTTS` wraps a TTS: it gathers one call's audio (one sentence), aligns it with the
text and yields it as one chunk carrying its visemes. The sentence then starts playing
once it is fully synthesised and aligned, a little later than unwrapped: the price of
lips in time for engines like espeak-ng or an OpenAI-compatible server.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator
from typing import Any

from openreplica.plugins.audio import resample
from openreplica.plugins.base import TTS, AudioChunk
from openreplica.plugins.visemes import Viseme, VisemeMark

__all__ = ["AlignedTTS", "PocketsphinxAligner", "viseme_for_arpabet"]

_ARPABET: dict[str, Viseme] = {
    **dict.fromkeys(("M", "B", "P"), "mbp"),
    **dict.fromkeys(("F", "V"), "fv"),
    **dict.fromkeys(("AA", "AE", "AW", "AY"), "aa"),
    **dict.fromkeys(("AO", "OW", "OY", "UW", "UH", "W", "SH", "ZH", "CH", "JH"), "oo"),
    **dict.fromkeys(("EH", "EY", "IH", "IY", "Y", "S", "Z"), "ee"),
    **dict.fromkeys(("SIL", "+NSN+", "+SPN+"), "rest"),
}
_RATE = 16000
_FRAME_S = 0.01  # pocketsphinx's frame


def viseme_for_arpabet(phone: str) -> Viseme:
    return _ARPABET.get(phone.upper().rstrip("012"), "relaxed")


class PocketsphinxAligner:
    """One decoder, loaded on first use; calls are serialised (it is not re-entrant)."""

    def __init__(self) -> None:
        self._decoder: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._decoder is None:
            from pocketsphinx import Decoder

            self._decoder = Decoder(lm=None, bestpath=False, loglevel="FATAL")
        return self._decoder

    def align(self, pcm: bytes, sample_rate: int, text: str) -> tuple[VisemeMark, ...]:
        """Marks for `pcm` (16-bit mono at `sample_rate`) speaking `text`; () when the
        text has no word the dictionary knows or the alignment fails."""
        with self._lock:
            decoder = self._load()
            words = [w for w in re.findall(r"[a-z']+", text.lower()) if decoder.lookup_word(w)]
            if not words or not pcm:
                return ()
            audio = pcm if sample_rate == _RATE else resample(pcm, sample_rate, _RATE)
            try:
                decoder.set_align_text(" ".join(words))
                for second_pass in (False, True):  # words, then phones inside them
                    if second_pass:
                        decoder.set_alignment()
                    decoder.start_utt()
                    decoder.process_raw(audio, full_utt=True)
                    decoder.end_utt()
                alignment = decoder.get_alignment()
            except RuntimeError:
                return ()
            if alignment is None:
                return ()
            phones = [(p.name, int(p.start), int(p.duration)) for p in alignment.phones()]
        marks: list[VisemeMark] = []
        for name, start, _ in phones:
            viseme = viseme_for_arpabet(name)
            offset = round(start * _FRAME_S * sample_rate)
            if not marks or marks[-1].viseme != viseme:
                marks.append(VisemeMark(offset, viseme))
        if marks and marks[-1].viseme != "rest":  # after the last phone: at rest
            tail = round((phones[-1][1] + phones[-1][2]) * _FRAME_S * sample_rate)
            if tail < len(pcm) // 2:
                marks.append(VisemeMark(tail, "rest"))
        return tuple(marks)


class AlignedTTS:
    """A TTS whose audio gets visemes by forced alignment (see the module doc)."""

    def __init__(self, inner: TTS, aligner: PocketsphinxAligner) -> None:
        self.inner = inner
        self.name = inner.name
        self.sample_rate = inner.sample_rate
        self._aligner = aligner

    async def synthesize(self, text: str) -> AsyncIterator[AudioChunk]:
        parts: list[bytes] = []
        rate = self.sample_rate
        async for chunk in self.inner.synthesize(text):
            if chunk.visemes and not parts:  # the engine times its own phonemes
                yield chunk
                continue
            parts.append(chunk.pcm)
            rate = chunk.sample_rate
        if not parts:
            return
        pcm = b"".join(parts)
        marks = await asyncio.to_thread(self._aligner.align, pcm, rate, text)
        yield AudioChunk(pcm, rate, marks)
