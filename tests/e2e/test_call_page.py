"""The call page in a real Chromium: join over WebRTC, talk, type, hear, see, interrupt.

Needs Debian's Chromium (`apt-get install -y chromium`) and the `playwright` package (never
`playwright install`: the test drives /usr/bin/chromium). Run it in a loopback-only
network namespace, as scripts/test does when root:
`unshare -n sh -c 'ip link set lo up && .venv/bin/python -m pytest tests/e2e'`.
The screenshot goes to artifacts/call-page.png.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
import pytest
from chromium import CHROMIUM, FLAGS, browser_context, join_call_page
from eventually import eventually
from server_process import free_port
from uvicorn_app import uvicorn_serving

from openreplica.runtime import ConversationRuntime
from openreplica.server.app import create_app
from openreplica.server.settings import ServerSettings

if TYPE_CHECKING:  # imported where used, so a missing playwright fails with a hint
    from playwright.async_api import ViewportSize

pytestmark = pytest.mark.e2e

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
# 24 words: the echoing LLM answers "You said: …", 26 words of tone at 200 ms each.
MESSAGE = (
    "please tell me a long story about the sea the wind the stars the moon the ships "
    "the sailors the harbour and the lighthouse keeper tonight"
)

# Peak level of the replica's audio over `ms`, measured by a WebAudio AnalyserNode on the
# remote track (headless Chromium reports inbound audio levels as 0).
AUDIO_PEAK_JS = """async (ms) => {
  const stream = document.getElementById("replica-audio").srcObject;
  if (!stream) return -1;
  const ctx = window.__peakCtx || (window.__peakCtx = new AudioContext());
  await ctx.resume();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 2048;
  const source = ctx.createMediaStreamSource(stream);
  source.connect(analyser);
  const buf = new Float32Array(analyser.fftSize);
  let peak = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    analyser.getFloatTimeDomainData(buf);
    for (const v of buf) peak = Math.max(peak, Math.abs(v));
    await new Promise((r) => setTimeout(r, 20));
  }
  source.disconnect();
  return peak;
}"""


@pytest.fixture
async def live_server(tmp_path: Path) -> AsyncIterator[tuple[str, Any]]:
    port = free_port()
    settings = ServerSettings(
        host="127.0.0.1", port=port, data_dir=tmp_path / "data", testing_scripted_plugins=True
    )
    app = create_app(settings)
    async with uvicorn_serving(app, port) as url:
        yield url, app


@pytest.fixture
def mic_frames(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """PCM the server receives from the browser's microphone (any conversation)."""
    frames: list[bytes] = []
    original = ConversationRuntime.push_user_audio

    def record(self: ConversationRuntime, pcm: bytes, rate: int, channels: int = 1) -> None:
        frames.append(pcm)
        original(self, pcm, rate, channels)

    monkeypatch.setattr(ConversationRuntime, "push_user_audio", record)
    return frames


def _viewport() -> ViewportSize:
    """`OPENREPLICA_SCREENSHOT_VIEWPORT=390x844` checks the narrow layout."""
    w, _, h = os.environ.get("OPENREPLICA_SCREENSHOT_VIEWPORT", "1280x800").partition("x")
    return {"width": int(w), "height": int(h)}


async def test_call_page_end_to_end(
    live_server: tuple[str, Any], mic_frames: list[bytes], tmp_path: Path
) -> None:
    base, app = live_server

    async with httpx.AsyncClient(base_url=base, trust_env=False) as http:
        created = (
            await http.post(
                "/v2/conversations", json={"properties": {"enable_closed_captions": True}}
            )
        ).json()
    url = created["conversation_url"]
    assert url.startswith(f"{base}/c/")

    scheme = os.environ.get("OPENREPLICA_SCREENSHOT_SCHEME", "dark")
    async with browser_context(
        tmp_path,
        viewport=_viewport(),
        color_scheme=scheme,
        permissions=["microphone", "camera"],
    ) as browser:
        page = await join_call_page(browser, url, timeout_ms=20_000)

        # The fake microphone reaches the server.
        async def mic_heard() -> bool:
            return any(np.abs(np.frombuffer(f, "<i2")).max() > 1000 for f in mic_frames[-200:])

        await eventually(mic_heard, timeout=10, message="microphone audio at the server")

        # The replica's video element shows frames.
        async def video_frames() -> int:
            return int(
                await page.evaluate(
                    "() => { const v = document.getElementById('replica-video');"
                    " return v.videoWidth > 0 ? v.getVideoPlaybackQuality().totalVideoFrames"
                    " : 0; }"
                )
            )

        first = await eventually(video_frames, timeout=10, message="video frames")

        async def more_frames() -> bool:
            return await video_frames() > first

        await eventually(more_frames, message="the replica's video keeps playing")

        # Typing gets a spoken reply with captions and a transcript.
        await page.fill("#message", MESSAGE)
        await page.press("#message", "Enter")
        await page.wait_for_selector(".msg.user >> text=lighthouse", timeout=10_000)
        await page.wait_for_function(
            "() => document.getElementById('caption-text').textContent.startsWith('You said')",
            timeout=10_000,
        )
        assert await page.locator("#app.speaking").count() == 1
        assert await page.locator("#app.no-captions").count() == 0  # enable_closed_captions
        peak = await page.evaluate(AUDIO_PEAK_JS, 1200)
        assert peak > 0.05, f"no replica audio in the browser (peak {peak})"
        # the screenshot shows the replica mid-sentence, with its caption on screen
        await page.wait_for_function(
            "() => document.getElementById('caption-text').textContent.trim().length > 0",
            timeout=10_000,
        )
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "call-page.png"))

        # The interrupt button stops the replica: the turn ends interrupted, audio stops.
        await page.click("#interrupt")
        await page.wait_for_selector(".msg.replica .tag >> text=interrupted", timeout=5_000)
        assert await page.locator("#app.speaking").count() == 0

        async def quiet() -> bool:  # once what was already in flight has drained
            return float(await page.evaluate(AUDIO_PEAK_JS, 800)) < 0.02

        await eventually(quiet, timeout=5, message="the replica silent after the interrupt")
        turns = await page.evaluate("() => window.openreplicaCall.getTurns()")
        assert turns[-1]["interrupted"] is True
        assert turns[-1]["user"] == MESSAGE

        # A dropped connection: the page says so, reconnects and resumes from the last
        # seq (the transcript neither loses nor repeats anything).
        bubbles = await page.locator(".msg.user, .msg.replica").count()
        for peer in list(app.state.webrtc_peers.peers):
            peer._finish("test: connection dropped")
        await page.wait_for_selector("#app[data-state=reconnecting]", timeout=10_000)
        assert "Connection lost" in await page.inner_text("#overlay-title")
        await page.wait_for_selector("#app[data-state=live]", timeout=20_000)
        await page.fill("#message", "are you back")
        await page.press("#message", "Enter")
        await page.wait_for_selector(".msg.replica >> text=You said: are you back", timeout=10_000)
        assert await page.locator(".msg.user, .msg.replica").count() == bubbles + 2
    if os.environ.get("OPENREPLICA_UPDATE_DOCS_SCREENSHOT"):
        docs = Path(__file__).resolve().parents[2] / "docs" / "images" / "call-page.png"
        shutil.copy(ARTIFACTS / "call-page.png", docs)


# The client library's ordering logic, run in the browser without a call: messages fed to
# the data-channel handler out of order, duplicated, with a gap.
ORDERING_JS = """async () => {
  const { default: OpenReplica } = await import("/static/openreplica.js");
  const call = OpenReplica.createCallObject({ gapTimeoutMs: 50 });
  const seen = [];
  const sent = [];
  call.on("app-message", ({ data, fromId }) => seen.push([data.seq ?? null, fromId]));
  call._state = "joined";
  call._target = { conversationId: "c1" };
  call._dc = { readyState: "open", send: (t) => sent.push(JSON.parse(t)) };
  const ev = (seq, extra = {}) => JSON.stringify({ event_type: "conversation.utterance",
    seq, turn_idx: 1, properties: { role: "user", speech: "hi" }, ...extra });
  call._onMessage(ev(5));
  call._onMessage(ev(7));
  call._onMessage(ev(6));
  call._onMessage(ev(6));
  call._onMessage(JSON.stringify({ event_type: "system.error", properties: { code: "x" } }));
  call._onMessage(ev(9));
  await new Promise((r) => setTimeout(r, 80));
  const resume = sent.find((m) => m.event_type === "system.resume");
  call._onMessage(ev(8));
  call.respond("hello");
  return { seen, resume, lastSeq: call.lastSeq, sent: sent.map((m) => [m.event_type,
    m.conversation_id, m.message_type]), turns: call.getTurns().map((t) => [t.turn_idx,
    t.user, t.events.length]) };
}"""


async def test_js_client_orders_events_and_fills_gaps(
    live_server: tuple[str, Any], tmp_path: Path
) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium`")
    from playwright.async_api import async_playwright

    base, _ = live_server
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = await browser.new_page()
            await page.goto(f"{base}/healthz")
            result = await page.evaluate(ORDERING_JS)
        finally:
            await browser.close()
    seqs = [seq for seq, _ in result["seen"]]
    assert seqs == [5, 6, 7, None, 8, 9]  # in order, duplicate dropped, error passed at once
    assert {from_id for _, from_id in result["seen"]} == {"replica"}
    assert result["resume"]["properties"] == {"last_seq": 7}  # the gap at 8 was asked for
    assert result["lastSeq"] == 9
    assert result["sent"][-1] == ["conversation.respond", "c1", "conversation"]
    assert result["turns"] == [[1, "hi", 5]]
