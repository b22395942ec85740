"""WebRTC options are ordinary server settings: flag or env var -> the transport's settings."""

from __future__ import annotations

from openreplica.server.settings import ServerSettings


def test_webrtc_flags_and_env_reach_the_transport_settings() -> None:
    settings = ServerSettings.load(
        {"webrtc_video_size": "320x240", "webrtc_video_fps": None},
        {
            "OPENREPLICA_WEBRTC_VIDEO_FPS": "15",
            "OPENREPLICA_WEBRTC_ICE_SERVERS": "stun:stun.example.invalid:3478",
            "OPENREPLICA_WEBRTC_LOOPBACK": "false",
        },
    )
    webrtc = settings.webrtc
    assert (webrtc.video_width, webrtc.video_height, webrtc.video_fps) == (320, 240, 15.0)
    assert [s.urls for s in webrtc.ice_servers] == [("stun:stun.example.invalid:3478",)]
    assert webrtc.loopback is False


def test_loopback_candidates_default_on_for_a_loopback_server_only() -> None:
    assert ServerSettings(host="127.0.0.1").webrtc.loopback is True
    public = ServerSettings(host="0.0.0.0", api_key="k")
    assert public.webrtc.loopback is False
