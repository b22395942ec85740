"""WebRTC settings: the ICE servers handed to aiortc (and, by the call page, to the
browser), avatar video size and rate, camera sampling, and the connect timeout. Read from
`OPENREPLICA_WEBRTC_*` at the edge (`WebRTCSettings.from_env`) and passed down."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace

from aiortc import RTCConfiguration, RTCIceServer

__all__ = ["IceServer", "WebRTCSettings", "parse_ice_servers"]


@dataclass(frozen=True, slots=True)
class IceServer:
    """A STUN or TURN server handed to aiortc (and, by the page, to the browser)."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"urls": list(self.urls)}
        if self.username is not None:
            out["username"] = self.username
        if self.credential is not None:
            out["credential"] = self.credential
        return out


@dataclass(frozen=True, slots=True)
class WebRTCSettings:
    #: none by default: host candidates only (a LAN, loopback, or a public address)
    ice_servers: tuple[IceServer, ...] = ()
    #: offer 127.0.0.1 as a host candidate (aioice leaves it out): local use and tests
    loopback: bool = False
    #: avatar video size; 384x384 keeps render + VP8 encode of 5 conversations within
    #: the 2 cores measured by bench/webrtc.py
    video_width: int = 384
    video_height: int = 384
    video_fps: float = 25.0
    #: user camera frames kept for perception, per second
    camera_fps: float = 2.0
    #: a connection that is not up this long after the answer is dropped (seconds)
    connect_timeout: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WebRTCSettings:
        """From `OPENREPLICA_WEBRTC_*` variables (read at the edge, passed in here):
        `_LOOPBACK` (1/true), `_ICE_SERVERS` (a JSON list of `{urls, username,
        credential}`, or comma-separated URLs), `_VIDEO_SIZE` (`WxH`), `_VIDEO_FPS`,
        `_CAMERA_FPS`."""
        s = cls()
        loopback = env.get("OPENREPLICA_WEBRTC_LOOPBACK", "").strip().lower()
        if loopback:
            s = replace(s, loopback=loopback in ("1", "true", "yes", "on"))
        servers = env.get("OPENREPLICA_WEBRTC_ICE_SERVERS", "").strip()
        if servers:
            s = replace(s, ice_servers=parse_ice_servers(servers))
        size = env.get("OPENREPLICA_WEBRTC_VIDEO_SIZE", "").strip().lower()
        if size:
            w, _, h = size.partition("x")
            s = replace(s, video_width=int(w), video_height=int(h or w))
        if fps := env.get("OPENREPLICA_WEBRTC_VIDEO_FPS", "").strip():
            s = replace(s, video_fps=float(fps))
        if camera := env.get("OPENREPLICA_WEBRTC_CAMERA_FPS", "").strip():
            s = replace(s, camera_fps=float(camera))
        return s

    def rtc_configuration(self) -> RTCConfiguration:
        # An explicit empty list: aiortc would otherwise contact a public STUN server.
        return RTCConfiguration(
            iceServers=[
                RTCIceServer(list(s.urls), s.username, s.credential) for s in self.ice_servers
            ]
        )


def parse_ice_servers(text: str) -> tuple[IceServer, ...]:
    """`[{"urls": "stun:host:3478"}, {"urls": [...], "username": ..., "credential": ...}]`
    or `stun:a:3478,turn:b:3478`."""
    if text.startswith("["):
        items = json.loads(text)
        out = []
        for item in items:
            urls = item["urls"]
            out.append(
                IceServer(
                    tuple([urls] if isinstance(urls, str) else urls),
                    item.get("username"),
                    item.get("credential"),
                )
            )
        return tuple(out)
    return tuple(IceServer((u.strip(),)) for u in text.split(",") if u.strip())
