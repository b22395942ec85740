"""A transcript that stops on a word no English sentence ends with ("the", "to", "my"…)
is a sentence cut off mid-way, whatever the voice sounded like.

Smart Turn judges the audio alone, and synthetic or flat voices often sound finished at
any word boundary; the transcript catches the clearest of those cases. A turn the model
calls complete whose transcript ends this way waits for the level's cap instead.
"""

from __future__ import annotations

import re

__all__ = ["ends_mid_sentence"]

#: articles, possessives, prepositions, conjunctions, auxiliaries and the infinitive "to"
DANGLING = frozenset(
    [
        "a",
        "an",
        "the",
        "my",
        "your",
        "his",
        "her",
        "its",
        "our",
        "their",
        "this",
        "that",
        "these",
        "those",
        "some",
        "any",
        "every",
        "to",
        "of",
        "in",
        "on",
        "at",
        "for",
        "from",
        "with",
        "about",
        "into",
        "onto",
        "over",
        "under",
        "by",
        "as",
        "than",
        "like",
        "and",
        "or",
        "but",
        "nor",
        "so",
        "because",
        "if",
        "when",
        "while",
        "although",
        "though",
        "unless",
        "until",
        "whether",
        "is",
        "are",
        "was",
        "were",
        "am",
        "be",
        "been",
        "being",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "can",
        "could",
        "will",
        "would",
        "shall",
        "should",
        "may",
        "might",
        "must",
        "i",
        "we",
        "you",
        "they",
        "he",
        "she",
        "it's",
        "i'm",
        "we're",
        "you're",
        "they're",
        "very",
        "really",
        "quite",
        "just",
        "also",
    ]
)

_WORD = re.compile(r"[a-z']+")


def ends_mid_sentence(text: str) -> bool:
    words = _WORD.findall(text.lower())
    return bool(words) and words[-1] in DANGLING
