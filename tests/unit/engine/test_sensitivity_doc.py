"""The README's sensitivity table says exactly what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from openreplica.engine import INTERRUPT_MIN_SPEECH, PAUSE_SILENCE

README = Path(__file__).parents[3] / "README.md"


def test_readme_table_matches_the_mapping() -> None:
    rows = re.findall(
        r"^\| (\w+)(?: \(default\))? \| (\d+) ms \| (\d+) ms \|$", README.read_text(), re.M
    )
    documented = {level: (int(pause), int(interrupt)) for level, pause, interrupt in rows}
    expected = {
        level: (round(PAUSE_SILENCE[level] * 1000), round(INTERRUPT_MIN_SPEECH[level] * 1000))
        for level in PAUSE_SILENCE
    }
    assert documented == expected
