"""Where the tests find the end-of-turn model: `scripts/setup --dev` pulls it into
`.cache/models/` before the tests run (they have no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from openreplica.models_turn import TURN_MODEL

CACHE = Path(__file__).resolve().parents[2] / ".cache" / "models"


def turn_model_path() -> Path:
    path = CACHE / TURN_MODEL.filename
    if not path.is_file():
        pytest.fail(
            f"the end-of-turn model is missing at {path}: run `scripts/setup --dev`, or "
            f"`openreplica models pull turn --output {path}` (needs the package index)",
            pytrace=False,
        )
    return path
