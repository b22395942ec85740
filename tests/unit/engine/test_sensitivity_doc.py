"""The README's sensitivity table says exactly what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from openreplica.engine import INTERRUPT_MIN_SPEECH, PAUSE_SILENCE, TURN_WAIT
from openreplica.runtime.voice import sensitivity_table

README = Path(__file__).parents[3] / "README.md"


def test_readme_table_matches_the_mapping() -> None:
    rows = re.findall(
        r"^\| `(\w+)` \| (\d+) ms \| (\d+) ms \| (\d+) ms \| (\d+) ms \|$",
        README.read_text(),
        re.M,
    )
    documented = {level: tuple(int(x) for x in values) for level, *values in rows}
    expected = {
        level: tuple(
            round(x * 1000)
            for x in (
                TURN_WAIT[level].floor,
                TURN_WAIT[level].cap,
                PAUSE_SILENCE[level],
                INTERRUPT_MIN_SPEECH[level],
            )
        )
        for level in PAUSE_SILENCE
    }
    assert documented == expected


def test_readme_prints_the_generated_table() -> None:
    assert sensitivity_table() in README.read_text()


def test_every_level_waits_longer_for_an_incomplete_turn_than_the_fixed_silence() -> None:
    for level, wait in TURN_WAIT.items():
        assert wait.floor < PAUSE_SILENCE[level] < wait.cap, level
