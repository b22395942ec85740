"""WebRTC settings: the ICE servers handed to aiortc (and, by the call page, to the
browser), avatar video size and rate, camera sampling, and the connect timeout. Typed
values, built at the edge (the server's `ServerSettings.webrtc`, from its flags and
`OPENREPLICA_WEBRTC_*` variables, parsed once with the parsers here) and passed down."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # aiortc is only needed once a peer is made
    from aiortc import RTCConfiguration

__all__ = ["IceServer", "WebRTCSettings", "parse_ice_servers", "parse_video_size"]


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

    def rtc_configuration(self) -> RTCConfiguration:
        from aiortc import RTCConfiguration, RTCIceServer

        # An explicit empty list: aiortc would otherwise contact a public STUN server.
        return RTCConfiguration(
            iceServers=[
                RTCIceServer(list(s.urls), s.username, s.credential) for s in self.ice_servers
            ]
        )


def parse_ice_servers(text: str) -> tuple[IceServer, ...]:
    """`[{"urls": "stun:host:3478"}, {"urls": [...], "username": ..., "credential": ...}]`
    or `stun:a:3478,turn:b:3478`. Raises ValueError on anything else."""
    text = text.strip()
    if not text.startswith("["):
        return tuple(IceServer((u.strip(),)) for u in text.split(",") if u.strip())
    items = json.loads(text)
    out = []
    for item in items:
        urls = item.get("urls") if isinstance(item, dict) else None
        if isinstance(urls, str):
            urls = [urls]
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise ValueError(f"an ICE server needs `urls` (a string or a list): {item!r}")
        out.append(IceServer(tuple(urls), item.get("username"), item.get("credential")))
    return tuple(out)


def parse_video_size(text: str) -> tuple[int, int]:
    """`WxH` (or one number for a square) -> (width, height). Raises ValueError."""
    w, _, h = text.strip().lower().partition("x")
    width, height = int(w), int(h or w)
    if width < 1 or height < 1:
        raise ValueError(f"expected WxH, got {text!r}")
    return width, height
