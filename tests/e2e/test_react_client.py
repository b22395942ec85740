"""The React package (clients/react) in a real Chromium against a real server process.

The sample app in examples/react-app is written against daily-react's API and uses every
hook and component the package has. The tests install the package's locked dependencies
(`npm ci`), build it (esbuild + tsc), run its `node --test` unit tests, type-check the
sample app against its declarations, bundle the app with esbuild, serve it from its own
loopback origin and run it against `openreplica serve` (cross-origin, so through CORS):
it joins, the replica's video renders and its audio plays, app messages go both ways,
meeting state and participant ids follow the call, and leaving clears them.

Needs node/npm (`apt-get install -y nodejs npm`), Debian's Chromium and playwright; run it
in a loopback-only namespace (`unshare -n`), after `npm ci --prefix clients/react` outside
it if npm's cache is empty (see docs/porting.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from chromium import FLAGS, require_chromium
from node_tools import npm_ci, require_node, run_node_tool
from server_process import ServerProcess, free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "clients" / "react"
SAMPLE = ROOT / "examples" / "react-app"
# The Daily-compatible call object (clients/js), as the app imports it.
CALL_OBJECT = ROOT / "clients" / "js" / "src" / "index.js"

# Peak level over `ms` of the audio element DailyAudio plays the replica on, measured with
# a WebAudio AnalyserNode (headless Chromium reports inbound audio levels as 0).
AUDIO_PEAK_JS = """async ([sessionId, ms]) => {
  const el = window.dailyAudio && window.dailyAudio.getAudioBySessionId(sessionId);
  if (!el || !el.srcObject) return -1;
  const ctx = window.__peakCtx || (window.__peakCtx = new AudioContext());
  await ctx.resume();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 2048;
  const source = ctx.createMediaStreamSource(el.srcObject);
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


@pytest.fixture(scope="module")
def react_package() -> Path:
    """clients/react installed (`npm ci`) and built (dist/: ESM, CJS, .d.ts)."""
    node, _ = require_node()
    npm_ci(PACKAGE)
    run_node_tool([node, "build.mjs"], cwd=PACKAGE)
    return PACKAGE


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path / "data")
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def _tsc(config: Path) -> subprocess.CompletedProcess[str]:
    node, _ = require_node()
    tsc = PACKAGE / "node_modules" / "typescript" / "bin" / "tsc"
    return subprocess.run(
        [node, str(tsc), "-p", str(config)], capture_output=True, text=True, timeout=300
    )


def test_package_builds_with_types(react_package: Path) -> None:
    for name in ("index.mjs", "index.cjs", "index.d.ts"):
        assert (react_package / "dist" / name).stat().st_size > 0, name
    declared = (react_package / "dist" / "index.d.ts").read_text()
    for name in (
        "DailyProvider",
        "DailyVideo",
        "DailyAudio",
        "useDaily",
        "useParticipantIds",
        "useLocalSessionId",
        "useAudioTrack",
        "useVideoTrack",
        "useScreenVideoTrack",
        "useDevices",
        "useDailyEvent",
        "useAppMessage",
        "useMeetingState",
        "useActiveSpeakerId",
        "useAudioLevelObserver",
        "useParticipantProperty",
        "useReplicaSessionId",
        "useConversationTurns",
    ):
        assert name in declared, f"{name} is not exported"
    # React stays a peer: the bundle imports it rather than carrying a copy.
    bundle = (react_package / "dist" / "index.mjs").read_text()
    assert 'from "react"' in bundle
    assert "react.production" not in bundle and "react.development" not in bundle


def test_node_unit_tests(react_package: Path) -> None:
    """The store and the turn grouping, under `node --test` (clients/react/test)."""
    node, _ = require_node()
    output = run_node_tool([node, "--test", "test/"], cwd=react_package)
    assert "# fail 0" in output and "# pass 0" not in output, output


def test_sample_app_type_checks_against_the_declarations(
    react_package: Path, tmp_path: Path
) -> None:
    result = _tsc(SAMPLE / "tsconfig.json")
    assert result.returncode == 0, result.stdout + result.stderr
    # The check has teeth: a filter daily-react does not have is refused.
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "wrong.tsx").write_text(
        'import { useParticipantIds } from "@openreplica/daily-react";\n'
        'export const W = () => useParticipantIds({ filter: "everyone" }).length;\n'
    )
    (bad / "tsconfig.json").write_text(
        json.dumps({"extends": str(SAMPLE / "tsconfig.json"), "include": [str(bad)]})
    )
    refused = _tsc(bad / "tsconfig.json")
    assert refused.returncode != 0 and "everyone" in refused.stdout, refused.stdout


def _bundle_sample(out_dir: Path) -> Path:
    """examples/react-app bundled by esbuild, against the built package."""
    require_node()
    esbuild = PACKAGE / "node_modules" / ".bin" / "esbuild"
    out_dir.mkdir(parents=True, exist_ok=True)
    run_node_tool(
        [
            str(esbuild),
            str(SAMPLE / "src" / "main.tsx"),
            "--bundle",
            "--format=esm",
            "--jsx=automatic",
            "--target=es2020",
            '--define:process.env.NODE_ENV="production"',
            f"--alias:@openreplica/daily-react={PACKAGE / 'dist' / 'index.mjs'}",
            f"--alias:@openreplica/daily-js={CALL_OBJECT}",
            f"--outfile={out_dir / 'app.js'}",
        ],
        cwd=ROOT,
        env={"NODE_PATH": str(PACKAGE / "node_modules")},  # react for the sample's imports
    )
    (out_dir / "index.html").write_text((SAMPLE / "index.html").read_text())
    return out_dir


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _static_server(directory: Path) -> ThreadingHTTPServer:
    """The bundled app on its own loopback port, served from a thread."""
    handler = partial(_QuietHandler, directory=str(directory))
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def _text(page: Any, selector: str) -> str:
    return str(page.inner_text(selector))


@pytest.mark.parametrize("own_call_object", [False, True], ids=["provider-props", "call-object"])
def test_sample_app_runs_against_a_real_server(
    react_package: Path, server: ServerProcess, tmp_path: Path, own_call_object: bool
) -> None:
    """<DailyProvider url=…> making the call object, or the app making it and handing it
    over (`callObject`), the two ways daily-react apps are written."""
    chromium = require_chromium()
    from playwright.sync_api import sync_playwright

    app_dir = _bundle_sample(tmp_path / "app")
    # The app has its own origin (another port): REST and the offer go cross-origin (CORS).
    app_server = _static_server(app_dir)
    app_url = f"http://127.0.0.1:{app_server.server_port}/index.html?server={server.url}"
    if own_call_object:
        app_url += "&callObject=1"

    env: dict[str, str | float | bool] = {
        **os.environ,
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
    }
    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=chromium,
            args=FLAGS,
            env=env,
            permissions=["microphone", "camera"],
        )
        try:
            page = browser.pages[0] if browser.pages else browser.new_page()
            console: list[str] = []
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
            page.goto(app_url)
            try:
                page.wait_for_function(
                    "() => document.getElementById('meeting-state')?.textContent"
                    " === 'joined-meeting'",
                    timeout=20_000,
                )
                page.wait_for_function(
                    "() => document.getElementById('replica-id')?.textContent", timeout=10_000
                )
            except Exception as exc:
                raise AssertionError(f"the app did not join; console: {console[-15:]}") from exc
            _check_joined(page)
            replica_id = _text(page, "#replica-id")
            _check_replica_video(page, replica_id)
            _check_app_messages_and_audio(page, replica_id, console)
            _check_leave(page)
        finally:
            browser.close()
            app_server.shutdown()
            app_server.server_close()


def _check_joined(page: Any) -> None:
    history = _text(page, "#meeting-history").split(",")
    assert history[-1] == "joined-meeting"
    assert "joining-meeting" in history  # useMeetingState followed the join
    assert _text(page, "#joined-meeting") == "1"  # useDailyEvent saw joined-meeting once
    local_id = _text(page, "#local-id")
    replica_id = _text(page, "#replica-id")
    assert local_id and replica_id and local_id != replica_id
    assert "tavus-replica" in _text(page, "#replica-user-id")
    assert _text(page, "#replica-name")  # useParticipantProperty: the persona's name
    ids = json.loads(_text(page, "#participant-ids"))
    assert sorted(ids) == sorted([local_id, replica_id])
    assert json.loads(_text(page, "#remote-ids")) == [replica_id]
    # onParticipantJoined fired for the replica (participant-joined).
    page.wait_for_function(
        f"() => document.getElementById('participant-joined').textContent.includes('{replica_id}')",
        timeout=10_000,
    )
    assert _text(page, "#screen-off") == "true"  # useScreenVideoTrack: no screen share
    # useDevices: the fake microphone was opened and listed.
    page.wait_for_function(
        "() => document.getElementById('mic-state').textContent === 'granted'", timeout=10_000
    )
    assert int(_text(page, "#microphones")) >= 1


def _check_replica_video(page: Any, replica_id: str) -> None:
    selector = f"video[data-session-id='{replica_id}']"
    page.wait_for_function(
        f'() => {{ const v = document.querySelector("{selector}");'
        " return v && v.videoWidth > 0 && v.getVideoPlaybackQuality().totalVideoFrames > 5; }",
        timeout=15_000,
    )
    first = page.evaluate(
        f'() => document.querySelector("{selector}").getVideoPlaybackQuality().totalVideoFrames'
    )
    page.wait_for_function(
        f'() => document.querySelector("{selector}")'
        f".getVideoPlaybackQuality().totalVideoFrames > {first}",
        timeout=5_000,
    )
    assert page.get_attribute(selector, "data-playable") == "true"
    assert _text(page, "#video-state") == "playable"
    page.wait_for_function(  # DailyVideo's onResize reported the native size
        "() => /^\\d+x\\d+$/.test(document.getElementById('video-size').textContent)",
        timeout=5_000,
    )


def _check_app_messages_and_audio(page: Any, replica_id: str, console: list[str]) -> None:
    assert _text(page, "#audio-state") == "playable"
    page.click("#respond")  # sendAppMessage from useAppMessage: conversation.respond
    # onAppMessage receives the events it caused, in seq order.
    page.wait_for_selector(
        "#received li[data-event='conversation.replica.started_speaking']", timeout=10_000
    )
    peak = page.evaluate(AUDIO_PEAK_JS, [replica_id, 1000])
    assert peak > 0.05, f"no replica audio on DailyAudio's element (peak {peak}); {console[-10:]}"
    page.wait_for_function(  # useAudioLevelObserver measured it too
        "() => parseFloat(document.getElementById('audio-peak').textContent) > 0", timeout=5_000
    )
    page.wait_for_function(  # the active speaker is the replica while it talks
        f"() => document.getElementById('active-speaker').textContent === '{replica_id}'",
        timeout=5_000,
    )
    # useConversationTurns: the user's words and the replica's answer in one turn.
    page.wait_for_selector(
        "#turns li[data-user='hello from react'][data-replica='You said: hello from react']",
        timeout=15_000,
    )
    seqs = [
        int(s)
        for s in page.eval_on_selector_all(
            "#received li[data-seq]:not([data-seq=''])", "els => els.map(e => e.dataset.seq)"
        )
    ]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    # An echo (no target given: Daily's default "*") is spoken too.
    page.click("#echo")
    page.wait_for_selector("#turns li[data-replica='an echo from react']", timeout=15_000)


def _check_leave(page: Any) -> None:
    page.click("#leave")
    page.wait_for_function(
        "() => document.getElementById('meeting-state').textContent === 'left-meeting'",
        timeout=10_000,
    )
    assert json.loads(_text(page, "#participant-ids")) == []
    assert _text(page, "#local-id") == ""
    assert _text(page, "#replica-id") == ""
