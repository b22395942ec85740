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


def test_a_long_run_without_sentence_ends_is_cut_at_word_boundaries_within_the_cap() -> None:
    words = [f"word{i}" for i in range(5000)]
    text = " ".join(words)  # ~44,000 characters and no punctuation at all
    s = SentenceSplitter(max_chars=100)
    segments = s.push(text)
    rest = s.flush()
    assert rest is not None
    segments.append(rest)
    assert all(0 < len(seg) <= 100 for seg in segments)
    assert " ".join(segments).split() == words  # no word cut, lost or duplicated
    assert len(segments) < len(text) // 80  # and the segments are not needlessly short


def test_the_cap_holds_for_streamed_tokens_too() -> None:
    s = SentenceSplitter(max_chars=50)
    out: list[str] = []
    for i in range(400):
        out += s.push(f" token{i}")
    out.append(s.flush() or "")
    assert all(len(seg) <= 50 for seg in out)
    assert " ".join(out).split() == [f"token{i}" for i in range(400)]


def test_a_word_longer_than_the_cap_is_cut_inside_it() -> None:
    s = SentenceSplitter(max_chars=10)
    assert s.push("a" * 25 + " b") == ["a" * 10, "a" * 10]
    assert s.flush() == "aaaaa b"


def test_sentences_within_the_cap_still_end_at_their_punctuation() -> None:
    s = SentenceSplitter(max_chars=40)
    assert s.push("Short one. " + "x " * 30 + "end. Next") == [
        "Short one.",
        ("x " * 20).strip(),
        ("x " * 10 + "end.").strip(),
    ]


def test_a_long_sentence_is_cut_after_a_clause_mark_when_one_is_in_reach() -> None:
    s = SentenceSplitter(max_chars=60)
    sentence = "We walked along the river for hours, talking about everything under the sun."
    assert s.push(sentence + " Then") == [
        "We walked along the river for hours,",
        "talking about everything under the sun.",
    ]


def test_first_words_are_a_segment_of_their_own_once_more_follows() -> None:
    tokens = [" Hello", " from", " a", " tiny", " model", ". It", " works."]
    assert split_words(tokens, 2) == ["Hello from", "a tiny model.", "It works."]
    # only the first segment: the second sentence is whole
    assert split_words(["It is noon. Have a nice day."], 2) == [
        "It is",
        "noon.",
        "Have a nice day.",
    ]


def test_first_words_stop_at_an_earlier_clause_mark_or_sentence_end() -> None:
    assert split_words(list("Sure, I can help with that."), 2) == ["Sure,", "I can help with that."]
    assert split_words(list("Yes. I can do it."), 2) == ["Yes.", "I can do it."]
    assert split_words(list("Sure thing."), 2) == ["Sure thing."]


def test_first_words_wait_for_more_text() -> None:
    s = SentenceSplitter(first_words=2)
    assert s.push("Hello from") == []
    assert s.push(" ") == []  # nothing follows yet: maybe "from." ends it
    assert s.push("a") == ["Hello from"]
    assert s.flush() == "a"


def test_first_words_respect_the_cap() -> None:
    s = SentenceSplitter(max_chars=10, first_words=2)
    assert s.push("abcdefghijklmnop qr st") == ["abcdefghij", "klmnop qr"]


def split_words(tokens: list[str], first_words: int) -> list[str]:
    s = SentenceSplitter(first_words=first_words)
    out = [sentence for t in tokens for sentence in s.push(t)]
    rest = s.flush()
    return [*out, rest] if rest else out
