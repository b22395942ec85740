"""`SpeechFeed`: playout frames -> 48 kHz 20 ms frames and the mouth level (no network)."""

from __future__ import annotations

from openreplica.plugins.audio import tone
from openreplica.runtime.camera import CameraFrames
from openreplica.transports.webrtc import IceServer, WebRTCSettings, parse_ice_servers
from openreplica.transports.webrtc_tracks import AUDIO_FRAME_SAMPLES, SpeechFeed


def _frames(seconds: float, rate: int = 24000) -> list[bytes]:
    pcm = tone(220.0, seconds, rate)
    size = rate // 50 * 2
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


def test_every_sample_comes_out_at_48_khz_and_the_tail_is_flushed() -> None:
    feed = SpeechFeed()
    out: list[bytes | None] = []
    for frame in _frames(1.0):  # playout and track in step, one frame each per 20 ms
        feed.write(frame, 24000)
        out.append(feed.pop())
    out.extend(feed.pop() for _ in range(5))
    speech = [f for f in out if f is not None]
    assert all(len(f) == 2 * AUDIO_FRAME_SAMPLES for f in speech)
    # 1 s of speech is 50 frames (the last one padded after the resampler's tail).
    assert len(speech) in (50, 51)
    assert out[0] is None  # the first frame waits one period for jitter
    assert out[-1] is None


def test_lips_close_on_the_first_video_frame_after_audio_stops() -> None:
    feed = SpeechFeed()
    for frame in _frames(0.2):
        feed.write(frame, 24000)
        feed.pop()
    assert feed.take_level() > 0.3
    for _ in range(5):  # what is left, then the resampler's tail
        feed.pop()
    feed.take_level()
    assert feed.pop() is None
    assert feed.take_level() == 0.0


def test_a_reader_that_stalls_does_not_build_latency() -> None:
    feed = SpeechFeed(max_frames=5)
    for frame in _frames(1.0, 48000):
        feed.write(frame, 48000)
    popped = 0
    while feed.pop() is not None:
        popped += 1
    assert popped <= 5


def test_settings_from_the_environment() -> None:
    from openreplica.server.settings import ServerSettings

    s = ServerSettings.load(
        {},
        {
            "OPENREPLICA_WEBRTC_LOOPBACK": "1",
            "OPENREPLICA_WEBRTC_ICE_SERVERS": "stun:a:3478, turn:b:3478",
            "OPENREPLICA_WEBRTC_VIDEO_SIZE": "320x240",
            "OPENREPLICA_WEBRTC_VIDEO_FPS": "20",
        },
    ).webrtc
    assert s.loopback and s.video_width == 320 and s.video_height == 240 and s.video_fps == 20
    assert s.ice_servers == (IceServer(("stun:a:3478",)), IceServer(("turn:b:3478",)))
    assert parse_ice_servers('[{"urls": ["turn:c"], "username": "u", "credential": "p"}]') == (
        IceServer(("turn:c",), "u", "p"),
    )
    assert WebRTCSettings().rtc_configuration().iceServers == []


def test_camera_ring_keeps_the_latest_frames() -> None:
    import numpy as np

    ring = CameraFrames(capacity=3)
    for i in range(5):
        ring.push(np.zeros((2, 2, 3), np.uint8), float(i))
    assert len(ring) == 3 and ring.total == 5
    latest = ring.latest()
    assert latest is not None and latest.timestamp == 4.0
    assert [f.timestamp for f in ring.frames(since=2.5)] == [3.0, 4.0]


def test_server_settings_map_onto_webrtc_settings() -> None:
    from openreplica.server.settings import ServerSettings

    assert ServerSettings(host="127.0.0.1").webrtc.loopback
    assert not ServerSettings(host="0.0.0.0", api_key="k").webrtc.loopback
    s = ServerSettings(
        host="127.0.0.1",
        webrtc_loopback=False,
        webrtc_ice_servers=parse_ice_servers("stun:a:3478"),
        webrtc_video_size=(256, 256),
    ).webrtc
    assert not s.loopback and s.video_width == 256 and s.ice_servers[0].urls == ("stun:a:3478",)
    from fastapi import FastAPI

    from openreplica.server.webrtc_routes import add_webrtc_routes

    app, explicit = FastAPI(), WebRTCSettings(video_fps=20)
    add_webrtc_routes(app, explicit)  # explicit settings are used as given
    assert app.state.webrtc_settings is explicit
