"""A real server process per test module (`tests/support/server_process.py`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from server_process import ServerProcess, free_port

__all__ = ["ServerProcess", "events", "free_port"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for a test module; a low rate limit so the limit is testable."""
    proc = ServerProcess(
        tmp_path_factory.mktemp("server") / "data",
        env={
            "OPENREPLICA_RATE_LIMIT": "50",
            "OPENREPLICA_RATE_BURST": "20",
            "OPENREPLICA_MAX_MESSAGE_BYTES": "4096",
        },
    )
    proc.start()
    yield proc
    proc.stop()


def events(messages: list[str | bytes]) -> list[dict[str, Any]]:
    return [json.loads(m) for m in messages]
