"""Incremental sentence splitting of streamed LLM tokens, so TTS can start early.

Pure and synchronous: `push` tokens as they arrive and get back the sentences that are
now complete; `flush` at the end of the reply returns whatever is left.

A sentence ends at `.`, `!`, `?` (plus closing quotes/brackets) or a newline, but only
once the *next* character is known to be whitespace: "3.5" and "e.g.x" never split, and
we never cut before seeing what follows. Common abbreviations ("Mr.", "e.g.") and single
initials do not end a sentence. To cut the latency to the first audio, the first clause
of a reply is emitted at a comma/semicolon/colon once it is already long; and with
`first_words`, the first segment is only the reply's first few words (or its first clause,
when that is shorter), as soon as they are followed by more: the TTS speaks them while
the rest of the sentence is synthesised. (Piper's time grows with the text: 140 ms of CPU
for "Hello from a tiny model.", 70 for "Hello from".)

No segment is longer than `max_chars`: a longer run without a sentence end is cut after
its last clause mark within the cap when there is one in the second half, else at its
last word boundary (inside a word only when one word is longer than the cap), so no
message can hand the TTS an unbounded piece of text. The cap matters for memory as well
as latency: Piper's memory peaks at about 1 MB per character of the segment it speaks.
"""

from __future__ import annotations

__all__ = ["ABBREVIATIONS", "DEFAULT_MAX_SEGMENT_CHARS", "SentenceSplitter"]

#: the longest segment handed to the TTS at once (about 10 s of speech); most spoken
#: sentences are shorter
DEFAULT_MAX_SEGMENT_CHARS = 150

ABBREVIATIONS: frozenset[str] = frozenset(
    {
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "e.g", "i.e",
        "approx", "dept", "est", "fig", "inc", "ltd", "co", "corp", "no", "vol", "jan",
        "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
        "u.s", "a.m", "p.m", "gen", "gov", "sen", "rep", "capt", "lt", "col", "sgt",
    }
)  # fmt: skip

_TERMINATORS = ".!?"
_CLOSERS = "\"')]}»”’"
_CLAUSE_MARKS = ",;:"


class SentenceSplitter:
    """Turns a token stream into sentences.

    `first_clause_chars`: when nothing has been emitted yet, a clause of at least this
    many characters ending in `,` `;` or `:` is emitted on its own (0 disables this).
    `max_chars`: the hard cap on one segment's length (see the module docstring).
    `first_words`: when nothing has been emitted yet, the first this-many words (or fewer,
    up to a clause mark) are emitted on their own once more text follows them (0: off).
    """

    def __init__(
        self,
        first_clause_chars: int = 60,
        max_chars: int = DEFAULT_MAX_SEGMENT_CHARS,
        first_words: int = 0,
    ) -> None:
        if max_chars < 1:
            raise ValueError("max_chars must be at least 1")
        if first_words < 0:
            raise ValueError("first_words must not be negative")
        self.first_clause_chars = first_clause_chars
        self.max_chars = max_chars
        self.first_words = first_words
        self._buf = ""
        self._emitted_any = False

    def push(self, token: str) -> list[str]:
        """Add a token; return the sentences it completed (possibly none)."""
        self._buf += token
        out: list[str] = []
        while True:
            cut = self._find_cut()
            if cut is None:
                break
            sentence = self._buf[:cut].strip()
            self._buf = self._buf[cut:].lstrip()
            if sentence:
                out.append(sentence)
                self._emitted_any = True
        return out

    def flush(self) -> str | None:
        """End of the stream: the remainder as a last sentence, or None if blank."""
        rest = self._buf.strip()
        self.reset()
        return rest or None

    def reset(self) -> None:
        self._buf = ""
        self._emitted_any = False

    # ------------------------------------------------------------------ internals

    def _find_cut(self) -> int | None:
        """Index just past the first complete segment in the buffer, if any."""
        cut = self._sentence_cut()
        if self.first_words and not self._emitted_any:
            early = self._first_words_cut()
            if early is not None and (cut is None or early < cut):
                return early
        if cut is not None and cut <= self.max_chars:
            return cut
        if len(self._buf) > self.max_chars:
            return self._word_cut()
        return None

    def _word_cut(self) -> int:
        """A cut that keeps the segment within `max_chars`: after the last clause mark
        (in the second half), else at the last whitespace that closes a word inside the
        cap, else hard at the cap."""
        buf, cap = self._buf, self.max_chars
        clause = max(buf.rfind(mark + " ", 0, cap) for mark in _CLAUSE_MARKS)
        if clause >= cap // 2:
            return clause + 1
        space = max(buf.rfind(ws, 0, cap + 1) for ws in " \n\t\r")
        return space if space > 0 else cap

    def _first_words_cut(self) -> int | None:
        """Index just past the first `first_words` words (or an earlier clause mark) when
        more text follows them, within the cap; else None."""
        buf = self._buf
        words = 0
        for i, ch in enumerate(buf):
            if i > self.max_chars:
                return None
            if not ch.isspace() or i == 0 or buf[i - 1].isspace():
                continue
            words += 1  # a word ends at i
            if buf[i - 1] in _CLAUSE_MARKS or words >= self.first_words:
                return i if buf[i:].strip() else None
        return None

    def _sentence_cut(self) -> int | None:
        """Index just past the first complete sentence within the cap, if any."""
        buf = self._buf
        for i, ch in enumerate(buf):
            if i >= self.max_chars:
                return None  # a sentence ending past the cap is cut by `_word_cut`
            if ch == "\n":
                if buf[:i].strip():
                    return i + 1
                continue
            if ch in _TERMINATORS:
                end = i + 1
                while end < len(buf) and (buf[end] in _CLOSERS or buf[end] in _TERMINATORS):
                    end += 1
                if end >= len(buf):
                    return None  # need the next character to decide
                if buf[end].isspace() and not self._is_abbreviation(buf, i):
                    return end
            elif (
                ch in _CLAUSE_MARKS
                and not self._emitted_any
                and self.first_clause_chars > 0
                and i + 1 >= self.first_clause_chars
            ):
                if i + 1 >= len(buf):
                    return None
                if buf[i + 1].isspace():
                    return i + 1
        return None

    @staticmethod
    def _is_abbreviation(buf: str, dot: int) -> bool:
        if buf[dot] != ".":
            return False
        start = dot
        while start > 0 and not buf[start - 1].isspace() and buf[start - 1] not in "(\"'":
            start -= 1
        word = buf[start:dot].lower()
        if not word:
            return False
        if word in ABBREVIATIONS:
            return True
        # A single letter ("J. Smith") is an initial, not the end of a sentence.
        if len(word) == 1 and word.isalpha():
            return True
        # "1. First step" at the start of a line is a list marker.
        return word.isdigit() and (start == 0 or buf[start - 1] == "\n")
