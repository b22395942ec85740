"""Join benchmark: how fast a daily-js app gets the replica on screen, in real Chromium.

A server (scripted plugins: no models) runs in this process on a loopback port; a page
loads the classic build with a `<script>` tag and, `--joins` times (default 20), creates a
conversation, calls `DailyIframe.createCallObject().join({url})` and measures from the
join() call to:

- `joined-meeting` (the data channel is open);
- the first replica video frame rendered in a <video> element
  (`requestVideoFrameCallback`);
- the first `app-message` (the conversation's `system.replica_joined`);

then leaves and destroys the call object (after one warm-up join). Prints p50 / p95 / max
of each (ms), and the bundle sizes (bytes, gzip -9) of the two builds served from /static
(the classic build is minified; the ES module is kept readable).
Targets (issue 12): join -> first replica video frame p50 <= 400 ms, p95 <= 800 ms;
classic bundle <= 25 KB min+gzip.

Run: unshare -n sh -c 'ip link set lo up && .venv/bin/python bench/join.py [--joins 20]'
Needs Debian's Chromium (/usr/bin/chromium) and the playwright package.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import socket
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from openreplica.server.app import create_app
from openreplica.server.settings import ServerSettings
from openreplica.server.webrtc_routes import STATIC_DIR

# Chromium's path and headless flags: one definition, shared with the browser tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
from chromium import CHROMIUM, FLAGS

# One measured join, in the page: only Daily's API.
JOIN_JS = """async (url) => {
  const video = document.getElementById("v");
  const call = DailyIframe.createCallObject({ videoSource: false });
  const t = {};
  let t0 = 0;
  const firstFrame = new Promise((resolve) => {
    call.on("track-started", ({ track, participant }) => {
      if (!participant || participant.local || track.kind !== "video") return;
      video.srcObject = new MediaStream([track]);
      video.requestVideoFrameCallback(() => resolve(performance.now()));
    });
  });
  const firstMessage = new Promise((resolve) =>
    call.once("app-message", () => resolve(performance.now())));
  call.on("joined-meeting", () => (t.joined = performance.now() - t0));
  t0 = performance.now();
  await call.join({ url });
  t.frame = (await firstFrame) - t0;
  t.message = (await firstMessage) - t0;
  await call.leave();
  await call.destroy();
  video.srcObject = null;
  return t;
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bundle_sizes() -> dict[str, tuple[int, int]]:
    """(bytes, gzip -9 bytes) of each served build."""
    sizes = {}
    for name in ("openreplica.classic.js", "openreplica.js"):
        data = (STATIC_DIR / name).read_bytes()
        sizes[name] = (len(data), len(gzip.compress(data, 9)))
    return sizes


async def run(joins: int) -> dict[str, list[float]]:
    from playwright.async_api import async_playwright

    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        settings = ServerSettings(
            host="127.0.0.1", port=port, data_dir=Path(tmp) / "data", testing_scripted_plugins=True
        )
        server = uvicorn.Server(
            uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
        )
        serving = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        base = f"http://127.0.0.1:{port}"
        results: dict[str, list[float]] = {"joined": [], "frame": [], "message": []}
        try:
            async with async_playwright() as p, httpx.AsyncClient(base_url=base) as http:
                browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
                context = await browser.new_context(permissions=["microphone", "camera"])
                page = await context.new_page()
                await page.goto(f"{base}/healthz")
                await page.set_content(
                    f'<script src="{base}/static/openreplica.classic.js"></script>'
                    '<video id="v" autoplay playsinline muted></video>'
                )
                for i in range(joins + 1):
                    created = (await http.post("/v2/conversations", json={})).json()
                    timing: dict[str, Any] = await page.evaluate(
                        JOIN_JS, created["conversation_url"]
                    )
                    await http.post(f"/v2/conversations/{created['conversation_id']}/end")
                    if i == 0:
                        continue  # warm-up: first use of the codecs and the page
                    for key in results:
                        results[key].append(float(timing[key]))
                await browser.close()
        finally:
            server.should_exit = True
            await serving
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--joins", type=int, default=20)
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install -y chromium")
    results = asyncio.run(run(args.joins))
    print(f"join() called -> …, {args.joins} joins on loopback (ms)")
    print(f"{'until':<28}{'p50':>8}{'p95':>8}{'max':>8}")
    labels = {
        "joined": "joined-meeting",
        "frame": "first replica video frame",
        "message": "first app-message",
    }
    for key, label in labels.items():
        values = results[key]
        print(
            f"{label:<28}{statistics.median(values):>8.0f}"
            f"{_percentile(values, 0.95):>8.0f}{max(values):>8.0f}"
        )
    print("bundle sizes (bytes / gzip -9; the classic build is minified, the module readable):")
    for name, (raw, packed) in bundle_sizes().items():
        print(f"  {name:<26}{raw:>8}{packed:>8}")


if __name__ == "__main__":
    main()
