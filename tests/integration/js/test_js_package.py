"""The JS package in clients/js: its `node --test` unit tests, `tsc --noEmit` of a sample
app against its TypeScript declarations, and a rebuild that must reproduce the bundles
committed in src/openreplica/server/static (so they cannot drift from the sources).

Needs Node and npm (`apt-get install -y nodejs npm`); `npm ci` installs esbuild and
typescript from the npm registry into clients/js/node_modules (about 5 s)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "clients" / "js"


def _run(*command: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=PACKAGE, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def npm_ready() -> Iterator[None]:
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            pytest.fail(f"`{tool}` is missing: install Node with `apt-get install -y nodejs npm`")
    installed = PACKAGE / "node_modules" / ".package-lock.json"
    lock = PACKAGE / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        done = _run("npm", "ci", "--no-audit", "--no-fund", timeout=300)
        assert done.returncode == 0, f"npm ci failed in {PACKAGE}:\n{done.stderr[-3000:]}"
    yield


def test_node_unit_tests_pass(npm_ready: None) -> None:
    done = _run("node", "--test", "test/")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout
    passed = int(done.stdout.split("# pass ")[1].split()[0])
    assert passed >= 20, done.stdout[-2000:]


def test_sample_app_type_checks_against_the_declarations(npm_ready: None) -> None:
    done = _run("node_modules/.bin/tsc", "--noEmit", "-p", "sample/tsconfig.json")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_committed_bundles_match_a_rebuild(npm_ready: None) -> None:
    done = _run("node", "build.mjs", "--check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "match" in done.stdout
