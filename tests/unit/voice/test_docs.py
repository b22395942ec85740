"""docs/voice.md prints the sensitivity table generated from the engine's mapping."""

from __future__ import annotations

from pathlib import Path

from openreplica.engine import INTERRUPT_MIN_SPEECH, PAUSE_SILENCE
from openreplica.runtime.voice import sensitivity_table

DOC = Path(__file__).resolve().parents[3] / "docs" / "voice.md"


def test_the_table_lists_every_level_in_milliseconds() -> None:
    table = sensitivity_table()
    for level, seconds in PAUSE_SILENCE.items():
        row = next(r for r in table.splitlines() if r.startswith(f"| `{level}` |"))
        assert f"| {round(seconds * 1000)} ms |" in row
        assert f"| {round(INTERRUPT_MIN_SPEECH[level] * 1000)} ms |" in row


def test_the_doc_table_matches_the_engine_mapping() -> None:
    text = DOC.read_text(encoding="utf-8")
    begin, end = "<!-- sensitivity-table:begin -->\n", "<!-- sensitivity-table:end -->"
    assert begin in text and end in text, "docs/voice.md lost its table markers"
    doc_table = text.split(begin, 1)[1].split(end, 1)[0]
    assert doc_table == sensitivity_table(), (
        "docs/voice.md is out of date: paste the output of "
        "`python -c 'from openreplica.runtime.voice import sensitivity_table as t; print(t())'`"
    )
