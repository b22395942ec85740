"""Debian's Chromium for the browser tests (never `playwright install`): where it is, the
flags that make it work headless in a loopback-only network namespace, and a check that
fails with how to install it."""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    # Without it ICE gathering never completes inside the namespace.
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
]


def require_chromium() -> str:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium`")
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.fail("playwright is missing: `pip install playwright` (never `playwright install`)")
    return CHROMIUM
