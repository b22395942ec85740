"""A transcript that stops on a word no English sentence ends with ("the", "and", "my"…)
is a sentence cut off mid-way, whatever the voice sounded like.

Smart Turn judges the audio alone, and synthetic or flat voices often sound finished at
any word boundary; the transcript catches the clearest of those cases. A turn the model
calls complete whose transcript ends this way waits for the level's cap instead.

The words are those that mostly need a complement: articles, determiners, conjunctions,
prepositions, forms of "be", contractions. Some do end sentences ("what is it for?",
"that's what it is", "I'd love to"); those turns then wait for the cap. That is the
cheaper mistake: a wrong "not over" costs a longer wait, a wrong "over" cuts the user
off. Modals ("yes, I can") and particles of phrasal verbs ("come in", "give up") end
short answers too often to be listed.
"""

from __future__ import annotations

import re

__all__ = ["DANGLING", "ends_mid_sentence"]

_DETERMINERS = ("a", "an", "the", "my", "your", "our", "their", "this", "these", "every")
_CONJUNCTIONS = ("and", "or", "but", "nor", "because", "if", "unless", "whether", "although")
_PREPOSITIONS = ("to", "of", "for", "with", "about", "from", "at", "into", "onto", "by", "than")
_BE = ("is", "are", "was", "were", "am")
_CONTRACTIONS = ("i'm", "you're", "we're", "they're", "it's", "that's", "there's", "very")
DANGLING = frozenset((*_DETERMINERS, *_CONJUNCTIONS, *_PREPOSITIONS, *_BE, *_CONTRACTIONS))

_WORD = re.compile(r"[a-z']+")


def ends_mid_sentence(text: str) -> bool:
    words = _WORD.findall(text.lower())
    return bool(words) and words[-1] in DANGLING
