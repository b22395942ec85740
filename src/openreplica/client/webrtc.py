"""OPTIONAL: the WebRTC transport (SPEC §2.2), for receiving the replica's media.

Needs aiortc (imported when a connection is made, not when this module is). The data
channel `app-message` carries the same JSON messages as the WebSocket; the server sends
the replica's audio and video tracks, handed to `on_track`. A `microphone` track, when
given, is sent as the user's audio.

    conv = await client.connect(info, transport=WebRTCTransport(
        client.target(info), on_track=lambda track: recorder.addTrack(track)))

`last_seq` is asked for with `system.resume` once the data channel is open.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from openreplica.client import messages
from openreplica.client.errors import ConnectionLost
from openreplica.client.target import ConversationTarget
from openreplica.protocol import encode

__all__ = ["WebRTCConnection", "WebRTCTransport"]

DATA_CHANNEL_LABEL = "app-message"


class WebRTCConnection:
    """One peer connection and its `app-message` data channel."""

    def __init__(self, pc: Any, channel: Any) -> None:
        self.pc = pc
        self.channel = channel
        self._inbox: asyncio.Queue[bytes | str | ConnectionLost] = asyncio.Queue()
        channel.on("message", self._inbox.put_nowait)
        channel.on("close", lambda: self._inbox.put_nowait(ConnectionLost(1006, "channel closed")))

    async def send(self, data: bytes) -> None:
        if self.channel.readyState != "open":
            raise ConnectionLost(1006, "data channel is not open")
        self.channel.send(data.decode("utf-8"))

    async def recv(self) -> bytes | str:
        item = await self._inbox.get()
        if isinstance(item, ConnectionLost):
            self._inbox.put_nowait(item)
            raise item
        return item

    async def close(self) -> None:
        await self.pc.close()


class WebRTCTransport:
    """Joins over WebRTC: POSTs an SDP offer to `…/webrtc/offer` and opens the
    `app-message` data channel; the replica's tracks go to `on_track`."""

    def __init__(
        self,
        target: ConversationTarget,
        *,
        on_track: Callable[[Any], None] | None = None,
        microphone: Any = None,
        timeout: float = 20.0,
        ice_servers: Sequence[str] = (),
    ) -> None:
        self.target = target
        #: STUN/TURN URLs; none by default, so nothing is contacted beyond the server
        self.ice_servers = tuple(ice_servers)
        self.on_track = on_track
        self.microphone = microphone
        self.timeout = timeout
        #: every remote track received, in order (audio, video)
        self.tracks: list[Any] = []
        #: what the server said about the replica with its last answer (`replica_id`,
        #: `replica_name` …): every key but the SDP's
        self.answer_info: dict[str, Any] = {}

    async def connect(self, last_seq: int | None) -> WebRTCConnection:
        try:
            from aiortc import (
                RTCConfiguration,
                RTCIceServer,
                RTCPeerConnection,
                RTCSessionDescription,
            )
        except ImportError as exc:  # pragma: no cover - aiortc is a dependency
            raise ConnectionLost(None, f"the WebRTC transport needs aiortc: {exc}") from None

        servers = [RTCIceServer(urls=url) for url in self.ice_servers]
        pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
        channel = pc.createDataChannel(DATA_CHANNEL_LABEL)
        opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        @channel.on("open")
        def _open() -> None:
            if not opened.done():
                opened.set_result(None)

        @pc.on("track")
        def _track(track: Any) -> None:
            self.tracks.append(track)
            if self.on_track is not None:
                self.on_track(track)

        if self.microphone is not None:
            pc.addTrack(self.microphone)
        else:
            pc.addTransceiver("audio", direction="recvonly")
        pc.addTransceiver("video", direction="recvonly")
        try:
            await pc.setLocalDescription(await pc.createOffer())
            answer = await self._exchange(pc.localDescription.sdp)
            await pc.setRemoteDescription(
                RTCSessionDescription(sdp=answer["sdp"], type=answer["type"])
            )
            await asyncio.wait_for(opened, self.timeout)
        except BaseException:
            await pc.close()
            raise
        connection = WebRTCConnection(pc, channel)
        if last_seq is not None:
            resume = messages.resume(self.target.conversation_id, last_seq)
            await connection.send(encode(resume))
        return connection

    async def _exchange(self, sdp: str) -> dict[str, Any]:
        url = self.target.http_url("/webrtc/offer")
        params = {"t": self.target.token} if self.target.token else None
        try:
            async with httpx.AsyncClient(timeout=self.timeout, trust_env=False) as http:
                response = await http.post(
                    url,
                    json={"sdp": sdp, "type": "offer"},
                    params=params,
                    headers=self.target.auth_headers(),
                )
        except httpx.HTTPError as exc:
            raise ConnectionLost(None, f"cannot reach {url}: {exc}") from None
        if response.status_code >= 400:
            raise ConnectionLost(response.status_code, response.text[:500])
        answer = json.loads(response.content)
        if not isinstance(answer, dict) or "sdp" not in answer:
            raise ConnectionLost(None, f"the server's answer is not an SDP answer: {answer!r}")
        self.answer_info = {k: v for k, v in answer.items() if k not in ("sdp", "type")}
        return answer
