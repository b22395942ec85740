"""The incremental sentence splitter."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from openreplica.engine.sentences import SentenceSplitter


def split(tokens: list[str], first_clause_chars: int = 60) -> list[str]:
    s = SentenceSplitter(first_clause_chars=first_clause_chars)
    out = [sentence for t in tokens for sentence in s.push(t)]
    rest = s.flush()
    return [*out, rest] if rest else out


def test_splits_on_terminators_once_followed_by_space() -> None:
    s = SentenceSplitter()
    assert s.push("Hello there") == []
    assert s.push(".") == []  # could still be "there.com" or "3.5": wait
    assert s.push(" How") == ["Hello there."]
    assert s.push(" are you? I'm") == ["How are you?"]
    assert s.push(" fine!") == []
    assert s.flush() == "I'm fine!"
    assert s.flush() is None


def test_abbreviations_decimals_and_initials_do_not_split() -> None:
    text = (
        "Mr. Smith paid $3.50 for 2.5 kg, e.g. apples. "
        "Dr. J. R. Jones arrived at 5 p.m. today. Done"
    )
    assert split(list(text)) == [
        "Mr. Smith paid $3.50 for 2.5 kg, e.g. apples.",
        "Dr. J. R. Jones arrived at 5 p.m. today.",
        "Done",
    ]


def test_closing_quotes_and_repeated_marks_stay_with_the_sentence() -> None:
    assert split(['He said "stop!" ', "Then?! (Yes.) ", "ok"]) == [
        'He said "stop!"',
        "Then?!",
        "(Yes.)",
        "ok",
    ]


def test_newlines_end_sentences_and_list_markers_do_not() -> None:
    assert split(["Steps:\n1. Open", " the box\n2. Take it\n\nThanks"]) == [
        "Steps:",
        "1. Open the box",
        "2. Take it",
        "Thanks",
    ]


def test_long_first_clause_is_emitted_early_at_a_comma() -> None:
    long_clause = "Well, considering everything we discussed about the weather today"
    assert len(long_clause) >= 60
    s = SentenceSplitter(first_clause_chars=60)
    assert s.push(long_clause + ",") == []  # need the next char
    assert s.push(" I think") == [long_clause + ","]
    # only the first clause: later commas wait for the end of the sentence
    more = " it will rain, probably heavily, and for a very long time this afternoon, sadly."
    assert s.push(more + " Ok") == ["I think" + more]


def test_short_first_clause_is_not_cut() -> None:
    assert split(["Well, ", "yes. ", "Bye"]) == ["Well, yes.", "Bye"]


def test_first_clause_disabled() -> None:
    text = "x" * 80 + ", then more."
    assert split([text], first_clause_chars=0) == [text]


def test_reset_forgets_everything() -> None:
    s = SentenceSplitter()
    s.push("half a sent")
    s.reset()
    assert s.flush() is None


@given(st.lists(st.text(alphabet="ab .,!?\n3Mr", max_size=8), max_size=30))
def test_no_text_is_lost_or_reordered(tokens: list[str]) -> None:
    # Whatever the tokenisation, the sentences put back together give the text back
    # (modulo whitespace at the cuts).
    sentences = split(tokens)
    assert all(s == s.strip() and s for s in sentences)
    assert "".join(sentences).replace(" ", "").replace("\n", "") == "".join(tokens).replace(
        " ", ""
    ).replace("\n", "")


@given(st.text(alphabet="ab .,!?\n3", max_size=80), st.integers(1, 10))
def test_token_boundaries_do_not_change_the_result(text: str, step: int) -> None:
    by_char = split(list(text))
    by_chunk = split([text[i : i + step] for i in range(0, len(text), step)])
    assert by_char == by_chunk
