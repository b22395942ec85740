"""Where the tests find the face models: pulled by `scripts/setup --dev` into the venv.

Tests run offline (a loopback-only namespace), so they cannot fetch the models
themselves; a missing cache fails with the command that fills it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from openreplica.plugins.avatar.facemesh import FaceModels, face_models_present


def face_models_dir() -> Path:
    override = os.environ.get("OPENREPLICA_TEST_FACE_MODELS")
    return Path(override) if override else Path(sys.prefix) / "share" / "openreplica-test" / "face"


def require_face_models() -> Path:
    d = face_models_dir()
    if not face_models_present(d):
        pytest.fail(
            f"the face models are not in {d}: run `scripts/setup --dev`, or "
            f"`{sys.prefix}/bin/openreplica models pull face --dir {d}`"
        )
    return d


def load_face_models() -> FaceModels:
    return FaceModels.load(require_face_models())
