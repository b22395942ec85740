"""WebRTC transport (SPEC §2.2): one aiortc peer connection per participant.

    peer = WebRTCPeer(runtime, settings=WebRTCSettings(), avatar=catalog.get("r-aria"))
    answer_sdp = await peer.answer(offer_sdp)     # send it back to the client
    reason = await peer.wait_closed()             # connection lost, closed, or ended
    await peer.close()

- Data channel `app-message` (opened by the client) <-> `ConversationChannel`: the same
  limits, errors to the sender, `system.resume` and gapless replay as the WebSocket.
  Messages are capped at 256 KiB each way (what Chromium and aiortc accept).
- The replica's audio track (48 kHz, Opus) is fed by the runtime's playout; its video
  track renders the avatar at `fps` with the mouth driven by that audio
  (`webrtc_tracks`). No avatar means an audio-only conversation.
- The user's microphone goes to `runtime.push_user_audio`; the camera to the
  conversation's camera ring (`runtime.camera`), for perception.
- The peer is closed when ICE/DTLS fails or closes, the data channel closes, the
  connection never comes up within `connect_timeout`, or the conversation has shut down
  and its last event was sent. The caller then leaves the conversation.

Settings and ICE-server parsing live in `webrtc_settings`, the aioice loopback patch in
`webrtc_loopback`, the media tracks in `webrtc_tracks`; they are re-exported here.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import SessionDescription

from openreplica.plugins.base import Avatar
from openreplica.protocol import ErrorCode, encode, error_event
from openreplica.runtime import ConversationRuntime
from openreplica.transports.channel import ChannelLimits, ConversationChannel, History
from openreplica.transports.rate_limit import TokenBucket
from openreplica.transports.webrtc_loopback import enable_loopback_candidates
from openreplica.transports.webrtc_settings import IceServer, WebRTCSettings, parse_ice_servers
from openreplica.transports.webrtc_tracks import (
    ReplicaAudioTrack,
    ReplicaVideoTrack,
    SpeechFeed,
    cancel_tasks,
    consume_user_audio,
    consume_user_video,
)

__all__ = [
    "DATA_CHANNEL_LABEL",
    "MAX_DATA_CHANNEL_MESSAGE",
    "IceServer",
    "WebRTCPeer",
    "WebRTCSettings",
    "enable_loopback_candidates",
    "parse_ice_servers",
]

log = logging.getLogger(__name__)

DATA_CHANNEL_LABEL = "app-message"
#: the largest data-channel message Chromium and aiortc both accept
MAX_DATA_CHANNEL_MESSAGE = 256 * 1024
#: pause sending events while this much is queued on the data channel
_SEND_HIGH_WATER = 1024 * 1024
_SEND_LOW_WATER = 256 * 1024


@dataclass
class _Stats:
    messages_in: int = 0
    messages_out: int = 0
    send_failures: int = 0
    states: list[str] = field(default_factory=list)


class WebRTCPeer:
    """One participant's peer connection on one conversation."""

    def __init__(
        self,
        runtime: ConversationRuntime,
        *,
        settings: WebRTCSettings | None = None,
        avatar: Avatar | None = None,
        limits: ChannelLimits | None = None,
        history: History | None = None,
        last_seq: int | None = None,
        conversation_bucket: TokenBucket | None = None,
        on_channel_open: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """`on_channel_open` is awaited once the data channel is open and delivering
        (the server starts the conversation then, so this participant sees the replica
        join and hears the greeting)."""
        self.runtime = runtime
        self._on_channel_open = on_channel_open
        self._conversation_bucket = conversation_bucket
        self.settings = settings = settings or WebRTCSettings()
        self.clock = runtime.clock
        limits = limits or ChannelLimits()
        self.limits = replace(
            limits, max_message_bytes=min(limits.max_message_bytes, MAX_DATA_CHANNEL_MESSAGE)
        )
        self._history = history
        self._last_seq = last_seq
        self.pc = RTCPeerConnection(configuration=settings.rtc_configuration())
        self.feed = SpeechFeed()
        self.audio = ReplicaAudioTrack(self.feed, self.clock)
        self.video: ReplicaVideoTrack | None = None
        if avatar is not None:
            seed = zlib.crc32(runtime.conversation_id.encode())
            stream = avatar.create_stream(settings.video_width, settings.video_height, seed)
            self.video = ReplicaVideoTrack(stream, self.feed, self.clock, settings.video_fps)
        self.channel: ConversationChannel | None = None
        self.data_channel: RTCDataChannel | None = None
        self.stats = _Stats()
        self._tasks: list[asyncio.Task[None]] = []
        self._done = asyncio.Event()
        self._reason = ""
        self._closed = False
        self._can_send = asyncio.Event()
        self._can_send.set()
        self.pc.on("datachannel", self._on_datachannel)
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_connection_state)

    # ------------------------------------------------------------------ signalling

    async def answer(self, offer_sdp: str) -> str:
        """Take the client's offer; returns the answer SDP (with every candidate: the
        answer is complete, no trickle ICE). Raises ValueError on an unusable offer."""
        if "m=application" not in offer_sdp:
            raise ValueError(
                f"the offer has no data channel: open one labelled {DATA_CHANNEL_LABEL!r} "
                "before creating the offer"
            )
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        except Exception as exc:  # aiortc raises ValueError or plain errors on bad SDP
            raise ValueError(f"unusable offer: {exc}") from exc
        kinds = {t.kind for t in self.pc.getTransceivers()}
        if "audio" in kinds:
            self.pc.addTrack(self.audio)
        if "video" in kinds and self.video is not None:
            self.pc.addTrack(self.video)
        self.runtime.add_speech_listener(self.feed)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        if _sends_opus(self.pc.localDescription.sdp):
            self.audio.encode_opus()
        self._tasks.append(asyncio.create_task(self._watch_connect(), name="webrtc-connect"))
        return self.pc.localDescription.sdp

    async def _watch_connect(self) -> None:
        await self.clock.sleep_until(self.clock.now() + self.settings.connect_timeout)
        if self.pc.connectionState != "connected" or self.channel is None:
            self._finish(f"not connected within {self.settings.connect_timeout:g} s")

    # ------------------------------------------------------------------ events

    def _on_connection_state(self) -> None:
        state = self.pc.connectionState
        self.stats.states.append(state)
        if state in ("failed", "closed"):
            self._finish(f"connection {state}")

    def _on_datachannel(self, dc: RTCDataChannel) -> None:
        if dc.label != DATA_CHANNEL_LABEL or self.channel is not None:
            log.info("ignoring data channel %r", dc.label)
            return
        self.data_channel = dc
        dc.bufferedAmountLowThreshold = _SEND_LOW_WATER
        channel = ConversationChannel(
            self.runtime,
            self._send,
            self.clock,
            self.limits,
            self._history,
            self._conversation_bucket,
        )
        self.channel = channel

        @dc.on("message")
        def on_message(message: str | bytes) -> None:
            self.stats.messages_in += 1
            channel.receive(message)

        @dc.on("close")
        def on_close() -> None:
            self._finish("data channel closed")

        @dc.on("bufferedamountlow")
        def on_low() -> None:
            self._can_send.set()

        self._tasks.append(asyncio.create_task(self._run_channel(channel), name="webrtc-dc"))

    async def _run_channel(self, channel: ConversationChannel) -> None:
        await channel.open(self._last_seq)
        if self._on_channel_open is not None:
            await self._on_channel_open()
        await channel.finished.wait()
        # The conversation has ended (or this peer fell too far behind): let the last
        # events leave before closing.
        dc = self.data_channel
        for _ in range(100):
            if dc is None or dc.readyState != "open" or dc.bufferedAmount == 0:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)  # SCTP hands the data to DTLS asynchronously
        self._finish("conversation ended" if not channel.overflowed else "peer too slow")

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            task = consume_user_audio(
                track, self.runtime.push_user_audio, self.runtime.end_user_audio
            )
        elif track.kind == "video":
            ring = self.runtime.camera
            task = consume_user_video(track, ring.push, self.clock, self.settings.camera_fps)
        else:
            return
        self._tasks.append(asyncio.create_task(task, name=f"webrtc-user-{track.kind}"))

    # ------------------------------------------------------------------ data channel

    async def _send(self, data: bytes) -> None:
        dc = self.data_channel
        if dc is None or dc.readyState != "open":
            return
        if dc.bufferedAmount > _SEND_HIGH_WATER:
            self._can_send.clear()
            await self._can_send.wait()
            if dc.readyState != "open":
                return
        try:
            dc.send(data.decode())
        except ValueError as exc:  # larger than the peer accepts
            self.stats.send_failures += 1
            log.warning("%s: event not sent over WebRTC: %s", self.runtime.conversation_id, exc)
            cid = self.runtime.conversation_id
            error = error_event(
                cid,
                ErrorCode.MESSAGE_TOO_LARGE,
                f"an event was too large for the data channel ({exc}); "
                f"read it from GET /v2/conversations/{cid}?verbose=true",
                timestamp=self.clock.now(),
            )
            dc.send(encode(error).decode())
            return
        self.stats.messages_out += 1

    # ------------------------------------------------------------------ closing

    def _finish(self, reason: str) -> None:
        if not self._done.is_set():
            self._reason = reason
            self._done.set()

    @property
    def connected(self) -> bool:
        return self.pc.connectionState == "connected"

    async def wait_closed(self) -> str:
        """Wait until the participant is gone; returns why."""
        await self._done.wait()
        return self._reason

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._finish("closed by the server")
        self.runtime.remove_speech_listener(self.feed)
        if self.channel is not None:
            await self.channel.close()
        self.audio.stop()
        if self.video is not None:
            self.video.stop()
        await cancel_tasks(self._tasks)
        await self.pc.close()


def _sends_opus(answer_sdp: str) -> bool:
    """Whether this answer sends audio as Opus: aiortc sends with the first codec the
    answer lists for the audio section."""
    for media in SessionDescription.parse(answer_sdp).media:
        if media.kind == "audio" and media.direction in ("sendrecv", "sendonly"):
            codecs = media.rtp.codecs
            return bool(codecs) and codecs[0].mimeType.lower() == "audio/opus"
    return False
