"""A transcript that stops on a word no English sentence ends with ("the", "and", "my"…)
is a sentence cut off mid-way, whatever the voice sounded like.

Smart Turn judges the audio alone, and synthetic or flat voices often sound finished at
any word boundary; the transcript catches the clearest of those cases. A turn the model
calls complete whose transcript ends this way waits for the level's cap instead. The list
is short on purpose: prepositions ("what is it for"), auxiliaries ("that's what it is")
and pronouns end sentences all the time. A wrong "not over" costs a wait up to the cap;
a wrong "over" cuts the user off, so "to" stays in ("I'd love to" waits).
"""

from __future__ import annotations

import re

__all__ = ["DANGLING", "ends_mid_sentence"]

#: articles, possessive determiners, conjunctions, contractions that need a complement,
#: the infinitive "to", and "very"
_DETERMINERS = ("a", "an", "the", "my", "your", "our", "their")
_CONJUNCTIONS = ("and", "or", "but", "nor", "because", "if", "unless", "whether", "although")
_OTHERS = ("than", "i'm", "you're", "we're", "they're", "it's", "that's", "there's", "to", "very")
DANGLING = frozenset((*_DETERMINERS, *_CONJUNCTIONS, *_OTHERS))

_WORD = re.compile(r"[a-z']+")


def ends_mid_sentence(text: str) -> bool:
    words = _WORD.findall(text.lower())
    return bool(words) and words[-1] in DANGLING
