"""Debian's Chromium for the browser tests (never `playwright install`): where it is, the
flags that make it work headless in a loopback-only network namespace, and a check that
fails with how to install it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page

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


@asynccontextmanager
async def browser_context(
    tmp_path: Path, extra_args: Sequence[str] = (), **options: Any
) -> AsyncIterator[BrowserContext]:
    """Debian's Chromium with a profile, config and cache of its own under `tmp_path`;
    `extra_args` go after the usual flags (e.g. `--use-file-for-fake-audio-capture=…`),
    `options` to Playwright's `launch_persistent_context` (permissions, viewport …)."""
    require_chromium()
    from playwright.async_api import async_playwright

    env: dict[str, str | float | bool] = {
        **os.environ,
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
    }
    async with async_playwright() as p:
        context = await p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            args=[*FLAGS, *extra_args],
            env=env,
            **options,
        )
        try:
            yield context
        finally:
            await context.close()


async def join_call_page(browser: BrowserContext, url: str, *, timeout_ms: float) -> Page:
    """Open the call page at `url` in `browser` and wait until it is live; if it never is,
    fail with the page's last console lines."""
    page = browser.pages[0] if browser.pages else await browser.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    await page.goto(url)
    try:
        await page.wait_for_selector("#app[data-state=live]", timeout=timeout_ms)
    except Exception as exc:
        raise AssertionError(f"page did not join; console: {console[-10:]}") from exc
    return page
