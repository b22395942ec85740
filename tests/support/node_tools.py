"""Node and npm for the JavaScript package tests: find them (failing with how to install
them), install a package's locked dependencies, and run its tools."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

NODE_HINT = "install Node 18+ and npm: `apt-get install -y nodejs npm`"


def require_node() -> tuple[str, str]:
    """The node and npm executables; the test fails with an install hint without them."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.fail(f"node/npm not found: {NODE_HINT}")
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout
    if int(version.lstrip("v").split(".")[0] or 0) < 18:
        pytest.fail(f"node {version.strip()} is too old: {NODE_HINT}")
    return node, npm


def npm_ci(package: Path) -> None:
    """`npm ci` in `package` unless its node_modules already match package-lock.json.
    Offline first: inside a loopback-only namespace only npm's cache can serve it."""
    _, npm = require_node()
    installed = package / "node_modules" / ".package-lock.json"
    lock = package / "package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    result = subprocess.run(
        [npm, "ci", "--prefer-offline", "--no-audit", "--no-fund"],
        cwd=package,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        pytest.fail(
            f"`npm ci` failed in {package} (it needs the npm registry or npm's cache: run "
            f"`npm ci --prefix {package}` outside the network namespace first):\n"
            f"{result.stderr[-2000:]}"
        )


def run_node_tool(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run node (or a package's tool) and return its output; fail the test on an error."""
    full_env = {**os.environ, **(env or {})}
    result = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=300, env=full_env
    )
    if result.returncode != 0:
        pytest.fail(f"{' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout
