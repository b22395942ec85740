"""What a test needs that the machine may lack: a missing one FAILS the test with the
command that installs it (never a silent skip, which would hide an untested path)."""

from __future__ import annotations

import importlib
import shutil
from types import ModuleType

import pytest

__all__ = ["require_module", "require_program"]


def require_module(name: str, install: str) -> ModuleType:
    """Import `name`, or fail saying how to install it (`install`: the command)."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        pytest.fail(f"this test needs {name!r} ({exc}); install it: {install}", pytrace=False)


def require_program(name: str, install: str) -> str:
    """The path of the program `name`, or fail saying how to install it."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"this test needs the program {name!r}; install it: {install}", pytrace=False)
    return path
