"""A page written only against Daily's API runs against openreplica in real Chromium.

The page loads the classic build with a `<script>` tag, uses the global `DailyIframe`
and nothing else of ours, and is served from a different origin (a second loopback
port) than the openreplica server, so every request crosses origins (CORS, SPEC §2.5).
It does what CVI apps do: `camera-error` from a missing camera, join with options,
find the replica (`user_id` contains `tavus-replica`) with playable tracks, app
messages both ways with and without a target, mute, camera off and on (a camera never
opened is opened), `participant-*` events, leave, join again with a hosted-style room
URL, the replica leaving when the conversation ends, destroy.

Needs Debian's Chromium and the `playwright` package (see tests/e2e/test_call_page.py);
run it in a loopback-only network namespace.
"""

# ruff: noqa: E501 (the page's JavaScript snippets read best on one line each)
from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from chromium import browser_context
from eventually import eventually
from server_process import free_port

from openreplica.runtime import ConversationRuntime
from openreplica.runtime.camera import CameraFrames

from .test_call_page import live_server  # noqa: F401

pytestmark = pytest.mark.e2e

# The app: Daily's API only (the script tag is the one line a port changes).
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>daily-js app</title>
<script src="{server}/static/openreplica.classic.js"></script></head>
<body><video id="replica" autoplay playsinline muted></video>
<script>
  window.log = [];
  const summary = (ev) => ({{
    action: ev.action,
    user_id: ev.participant && ev.participant.user_id,
    local: ev.participant && ev.participant.local,
    audio: ev.participant && ev.participant.audio,
    video: ev.participant && ev.participant.video,
    type: ev.type || (ev.error && ev.error.type),
    errorMsg: ev.errorMsg,
    event_type: ev.data && ev.data.event_type,
    speech: ev.data && ev.data.properties && ev.data.properties.speech,
    role: ev.data && ev.data.properties && ev.data.properties.role,
    fromId: ev.fromId,
  }});
  const EVENTS = ["loading", "loaded", "started-camera", "camera-error", "joining-meeting",
    "joined-meeting", "left-meeting", "participant-joined", "participant-updated",
    "participant-left", "track-started", "track-stopped", "app-message", "error",
    "nonfatal-error", "call-instance-destroyed"];
  function watch(call) {{
    for (const name of EVENTS) call.on(name, (ev) => window.log.push(summary(ev)));
    call.on("track-started", ({{ track, participant }}) => {{
      if (participant && !participant.local && track.kind === "video") {{
        document.getElementById("replica").srcObject = new MediaStream([track]);
      }}
    }});
  }}
  window.replicaOf = (call) =>
    Object.values(call.participants()).find((p) => p.user_id.includes("tavus-replica"));
</script></body></html>
"""


@pytest.fixture
def app_origin(live_server: tuple[str, Any]) -> Iterator[str]:  # noqa: F811
    """The app's own origin: a second loopback port serving the page."""
    base, _ = live_server
    html = PAGE.format(server=base).encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Page)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def server_media(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """What the server receives: microphone PCM and camera frames (any conversation)."""
    got: dict[str, list[Any]] = {"mic": [], "camera": []}
    push_audio = ConversationRuntime.push_user_audio
    push_frame = CameraFrames.push

    def record_audio(self: ConversationRuntime, pcm: bytes, rate: int, channels: int = 1) -> None:
        got["mic"].append(pcm)
        push_audio(self, pcm, rate, channels)

    def record_frame(self: CameraFrames, image: Any, timestamp: float) -> None:
        got["camera"].append(timestamp)
        push_frame(self, image, timestamp)

    monkeypatch.setattr(ConversationRuntime, "push_user_audio", record_audio)
    monkeypatch.setattr(CameraFrames, "push", record_frame)
    return got


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Any]:
    async with browser_context(tmp_path, permissions=["microphone", "camera"]) as context:
        yield context


def _loud(frames: list[bytes]) -> bool:
    return any(np.abs(np.frombuffer(f, "<i2")).max() > 1000 for f in frames)


async def test_daily_js_app_runs_unchanged(
    live_server: tuple[str, Any],  # noqa: F811
    app_origin: str,
    server_media: dict[str, list[Any]],
    browser: Any,
) -> None:
    base, _ = live_server
    async with httpx.AsyncClient(base_url=base, trust_env=False) as http:
        persona = (await http.post("/v2/personas", json={"persona_name": "Greeter"})).json()
        created = (
            await http.post("/v2/conversations", json={"persona_id": persona["persona_id"]})
        ).json()
    cid, url = created["conversation_id"], created["conversation_url"]
    assert app_origin != base  # a different origin than the server

    page = browser.pages[0] if browser.pages else await browser.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    await page.goto(app_origin + "/")
    assert await page.evaluate(
        "() => typeof DailyIframe.createCallObject === 'function' && window.Daily === window.DailyIframe"
    )

    async def log() -> list[dict[str, Any]]:
        return list(await page.evaluate("() => window.log"))

    async def until_js(expression: str, what: str, timeout: float = 15) -> Any:
        async def check() -> Any:
            return await page.evaluate(expression)

        try:
            return await eventually(check, timeout=timeout, message=what)
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}; console: {console[-8:]}; log: {(await log())[-8:]}"
            ) from exc

    # A missing camera: Daily's camera-error, the microphone still works.
    devices = await page.evaluate(
        """async () => {
          const probe = DailyIframe.createCallObject();
          watch(probe);
          const devices = await probe.startCamera({ videoSource: "no-such-camera" });
          const local = probe.participants().local;
          await probe.destroy();
          return { mic: devices.mic.kind, video: local.tracks.video.state,
                   blocked: local.tracks.video.blocked, audio: local.tracks.audio.state };
        }"""
    )
    assert devices == {
        "mic": "audioinput",
        "video": "blocked",
        "blocked": {"byDeviceMissing": True},
        "audio": "playable",
    }
    camera_error = next(e for e in await log() if e["action"] == "camera-error")
    assert camera_error["type"] == "not-found"
    assert [e["action"] for e in await log()][-1] == "call-instance-destroyed"

    # Join with options; the promise resolves with the local participant.
    joined = await page.evaluate(
        """async (url) => {
          window.log = [];
          window.call = DailyIframe.createCallObject();
          watch(window.call);
          const participants = await window.call.join({ url, userName: "Ann", startVideoOff: true,
            inputSettings: { audio: { processor: { type: "noise-cancellation" } } } });
          return { keys: Object.keys(participants), name: participants.local.user_name,
                   video: participants.local.video, state: window.call.meetingState() };
        }""",
        url,
    )
    assert joined == {"keys": ["local"], "name": "Ann", "video": False, "state": "joined-meeting"}
    actions = [e["action"] for e in await log()]
    assert actions[:4] == ["loading", "loaded", "joining-meeting", "started-camera"]
    assert "joined-meeting" in actions

    # The replica: found by user_id, named after the persona, tracks playable, video plays.
    replica = await until_js(
        """() => { const r = replicaOf(window.call);
          return r && r.tracks.audio.state === "playable" && r.tracks.video.state === "playable"
            && r.tracks.video.track === r.tracks.video.persistentTrack
            && { user_id: r.user_id, user_name: r.user_name, session_id: r.session_id, local: r.local,
                 joined: r.joined_at instanceof Date }; }""",
        "the replica's playable tracks",
    )
    assert "tavus-replica" in replica["user_id"] and replica["user_name"] == "Greeter"
    assert replica["local"] is False and replica["joined"] is True
    joined_events = [e for e in await log() if e["action"] == "participant-joined"]
    assert [e["user_id"] for e in joined_events] == [replica["user_id"]]
    await until_js(
        "() => { const v = document.getElementById('replica'); return v.videoWidth > 0 && v.getVideoPlaybackQuality().totalVideoFrames > 2; }",
        "replica video frames in the page",
    )
    await eventually(
        lambda: _loud(server_media["mic"][-100:]),
        timeout=10,
        message="the microphone at the server",
    )

    # App messages both ways: broadcast, and addressed to the replica's session_id.
    await page.evaluate(
        """(cid) => window.call.sendAppMessage({ message_type: "conversation", event_type: "conversation.respond",
              conversation_id: cid, properties: { text: "hello there" } })""",
        cid,
    )
    await until_js(
        "() => window.log.some((e) => e.event_type === 'conversation.utterance' && e.role === 'replica' && e.speech === 'You said: hello there')",
        "the replica's answer to a broadcast message",
    )
    await page.evaluate(
        """(to) => window.call.sendAppMessage({ event_type: "conversation.echo",
              properties: { text: "addressed to you" } }, to)""",
        replica["session_id"],
    )
    await until_js(
        "() => window.log.some((e) => e.event_type === 'conversation.utterance' && e.speech === 'addressed to you')",
        "the echo of a message addressed to the replica",
    )
    received = [e for e in await log() if e["action"] == "app-message"]
    assert {e["fromId"] for e in received} == {replica["session_id"]}

    # Mute: the local participant says so and the server hears silence; then unmute.
    muted = await page.evaluate(
        "() => { window.call.setLocalAudio(false); const l = window.call.participants().local; return [window.call.localAudio(), l.audio, l.tracks.audio.state]; }"
    )
    assert muted == [False, False, "off"]
    assert any(
        e["action"] == "participant-updated" and e["local"] and e["audio"] is False
        for e in await log()
    )
    # What was in flight drains: the newest frames the server heard are quiet.
    start = len(server_media["mic"])
    await eventually(
        lambda: len(server_media["mic"]) > start + 25 and not _loud(server_media["mic"][-25:]),
        timeout=10,
        message="the microphone quiet at the server once muted",
    )
    mark = len(server_media["mic"])
    await eventually(
        lambda: len(server_media["mic"]) > mark + 100, timeout=10, message="muted microphone frames"
    )
    assert not _loud(server_media["mic"][mark:]), "muted microphone still heard at the server"
    await page.evaluate("() => window.call.setLocalAudio(true)")
    mark = len(server_media["mic"])
    await eventually(
        lambda: _loud(server_media["mic"][mark:]), timeout=10, message="the unmuted microphone"
    )

    # Camera on (it was never opened: startVideoOff), frames reach the server; then off.
    assert server_media["camera"] == []
    await page.evaluate("() => window.call.setLocalVideo(true)")
    await until_js(
        "() => window.call.localVideo() && window.call.participants().local.tracks.video.state === 'playable'",
        "the local camera on",
    )
    await eventually(
        lambda: len(server_media["camera"]) >= 2, timeout=10, message="camera frames at the server"
    )
    off = await page.evaluate(
        "() => { window.call.setLocalVideo(false); return window.call.participants().local.tracks.video.state; }"
    )
    assert off == "off"
    assert any(e["action"] == "track-started" and e["local"] for e in await log())

    # Leave; the call object is reusable.
    left = await page.evaluate(
        "async () => { await window.call.leave(); return [window.call.meetingState(), Object.keys(window.call.participants())]; }"
    )
    assert left == ["left-meeting", ["local"]]
    assert [e["action"] for e in await log()][-1] == "left-meeting"

    # Join again with the hosted-style room URL, the server named page-wide.
    again = await page.evaluate(
        """async ([server, cid]) => {
          window.log = [];
          window.OPENREPLICA_SERVER = server;
          await window.call.join({ url: `https://tavus.daily.co/${cid}`, startVideoOff: true });
          return window.call.meetingState();
        }""",
        [base, cid],
    )
    assert again == "joined-meeting"
    await until_js(
        "() => { const r = replicaOf(window.call); return r && r.tracks.video.state === 'playable'; }",
        "the replica again",
    )

    # The conversation ends: the replica leaves, then the call.
    async with httpx.AsyncClient(base_url=base, trust_env=False) as http:
        assert (await http.post(f"/v2/conversations/{cid}/end")).status_code == 200
    await until_js(
        "() => window.call.meetingState() === 'left-meeting'", "left-meeting after the end"
    )
    tail = [e["action"] for e in await log()]
    assert tail.index("participant-left") < len(tail) - 1 - tail[::-1].index("left-meeting")
    left_event = next(e for e in await log() if e["action"] == "participant-left")
    assert left_event["user_id"] == replica["user_id"]

    # A fatal error: joining the ended conversation rejects with Daily's error object.
    refused = await page.evaluate(
        """async (url) => { try { await window.call.join({ url }); return null; }
          catch (e) { return [e.action, e.error.type, window.call.meetingState()]; } }""",
        url,
    )
    assert refused == ["error", "exp-room", "error"]

    # Destroy: the instance is gone.
    destroyed = await page.evaluate(
        """async () => { await window.call.destroy();
          let threw = false; try { window.call.participants(); window.call.join({}); } catch (e) { threw = true; }
          return [window.call.isDestroyed(), threw]; }"""
    )
    assert destroyed == [True, True]
    assert not [c for c in console if c.startswith("error:") and "openreplica" in c], console
