"""Does the transcript read like a finished sentence? P(end of sentence | last two words)
from the trigram language model that ships with PocketSphinx (en-us, a core dependency).

The end-of-turn model (Smart Turn v3) hears only audio: on flat or synthetic voices it
calls most pauses after *any* word complete ("I am looking for a…" scores 0.95). A
language model knows that "for a" is almost never the end of a sentence and "tonight"
often is: P(</s> | "for a") = 0.002, P(</s> | "two tonight") = 0.39. This is the
text side of a turn detector (LiveKit's is a small transformer over the transcript; a
trigram is the cheap, offline version: a lookup, microseconds). The model file is read
once (~80 ms, ~30 MB) and shared by every conversation.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pocketsphinx import NGramModel

__all__ = ["SentenceEndLM", "default_lm_path", "last_word"]

_WORD = re.compile(r"[a-z']+")
#: pocketsphinx's log base
_LOG_BASE = 1.0001


def last_word(text: str) -> str:
    """The transcript's last word ("" without one): `end_probability` of it alone is
    P(a sentence ends | that word), the bigram beside the trigram."""
    words = _WORD.findall(text.lower())
    return words[-1] if words else ""


def default_lm_path() -> Path | None:
    """PocketSphinx's en-us trigram model, or None when pocketsphinx is not installed."""
    try:
        import pocketsphinx
    except ImportError:
        return None
    path = Path(pocketsphinx.get_model_path()) / "en-us" / "en-us.lm.bin"
    return path if path.is_file() else None


class SentenceEndLM:
    name = "pocketsphinx-en-us-trigram"

    def __init__(self, path: Path) -> None:
        from pocketsphinx import Config, LogMath, NGramModel

        self.path = path
        self._lm: NGramModel = NGramModel(Config(), LogMath(), str(path))

    def end_probability(self, text: str) -> float | None:
        """P(the sentence ends after `text`), from its last two words; None without words."""
        words = _WORD.findall(text.lower())
        if not words:
            return None
        # pocketsphinx takes the word first, then its history, most recent first
        score = self._lm.prob(["</s>", *reversed(words[-2:])])
        return math.exp(score * math.log(_LOG_BASE))
