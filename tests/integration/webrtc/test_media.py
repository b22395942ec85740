"""Media over WebRTC: the replica's audio and video, the user's microphone and camera."""

from __future__ import annotations

import asyncio
import fractions
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from eventually import eventually

from openreplica.engine import EngineSettings
from openreplica.plugins.audio import tone
from openreplica.plugins.avatar import BUILTIN_STYLES, CharacterAvatar
from openreplica.plugins.base import Avatar
from openreplica.plugins.scripted import ScriptedLLM, ScriptedTTS
from openreplica.runtime import ConversationRuntime, RuntimePlugins, SystemClock
from openreplica.transports.webrtc import WebRTCPeer, WebRTCSettings, enable_loopback_candidates

from .conftest import MS_PER_WORD, Join, Server


class ToneTrack(MediaStreamTrack):
    """A microphone: a 440 Hz tone, 20 ms frames at 48 kHz (unpaced: aiortc paces)."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._pcm = tone(440.0, 0.02, 48000, amplitude=0.4)
        self._pts = 0

    async def recv(self) -> av.AudioFrame:
        await asyncio.sleep(0.02)
        frame = av.AudioFrame(format="s16", layout="mono", samples=960)
        frame.planes[0].update(self._pcm)
        frame.sample_rate = 48000
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, 48000)
        self._pts += 960
        return frame


class CameraTrack(MediaStreamTrack):
    """A camera: 160x120 frames at about 10 fps."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self._i = 0

    async def recv(self) -> av.VideoFrame:
        await asyncio.sleep(0.1)
        image = np.full((120, 160, 3), (40 + self._i * 7) % 255, np.uint8)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = self._i * 9000
        frame.time_base = fractions.Fraction(1, 90000)
        self._i += 1
        return frame


async def test_audio_received_matches_the_spoken_reply(server: Server, join: Join) -> None:
    conversation = await server.create()
    client = await join(conversation["conversation_id"])
    await client.wait_event("system.replica_joined")
    text = "one two three four five six seven eight"  # 8 words = 1.6 s of tone
    expected = len(text.split()) * MS_PER_WORD / 1000
    client.send({"event_type": "conversation.echo", "properties": {"text": text}})
    stopped = await client.wait_event("conversation.replica.stopped_speaking")
    assert abs(stopped["properties"]["duration"] - expected) < 0.05
    # The last frames may still be on the wire.
    await eventually(
        lambda: abs(client.loud_audio_seconds() - expected) <= 0.1 + 0.05 * expected,
        timeout=3,
        message=f"{expected:g} s of loud audio received",
    )
    # Silence is sent between utterances (the track never stalls): frames keep coming.
    before = len(client.audio)
    await eventually(lambda: len(client.audio) > before, message="silence keeps coming")


async def test_video_arrives_at_about_25_fps(server: Server, join: Join) -> None:
    conversation = await server.create()
    client = await join(conversation["conversation_id"])
    await client.wait_event("system.replica_joined")
    await eventually(lambda: len(client.video) >= 5, message="video past the first keyframe")
    loop = asyncio.get_running_loop()
    start, count_at_start = loop.time(), len(client.video)
    await eventually(lambda: len(client.video) - count_at_start >= 40, timeout=6, message="video")
    elapsed = loop.time() - start
    fps = (len(client.video) - count_at_start) / elapsed
    assert 15 <= fps <= 32, fps


async def test_audio_only_conversation_has_no_video(server: Server, join: Join) -> None:
    conversation = await server.create(audio_only=True)
    client = await join(conversation["conversation_id"])
    await client.wait_event("system.replica_joined")
    # Half a second of audio has arrived (the tracks flow) and still no video.
    await eventually(lambda: len(client.audio) >= 25, message="audio frames")
    assert client.video == []
    assert client.answer["replica_name"] is None


async def test_microphone_and_camera_reach_the_conversation(
    server: Server, join: Join, monkeypatch: Any
) -> None:
    pushed: list[tuple[bytes, int, int]] = []
    original = ConversationRuntime.push_user_audio

    def record(self: ConversationRuntime, pcm: bytes, rate: int, channels: int = 1) -> None:
        pushed.append((pcm, rate, channels))
        original(self, pcm, rate, channels)

    monkeypatch.setattr(ConversationRuntime, "push_user_audio", record)
    conversation = await server.create()
    cid = conversation["conversation_id"]
    client = await join(cid, tracks=(ToneTrack(), CameraTrack()))
    await client.wait_event("system.replica_joined")
    await eventually(
        lambda: len(pushed) > 25 and len(server.runtime(cid).camera) >= 2,
        message="microphone and camera frames at the server",
    )
    pcm, rate, channels = pushed[-1]
    assert rate == 48000 and channels in (1, 2)
    samples = np.frombuffer(pcm, "<i2").reshape(-1, channels)
    assert np.abs(samples).max() > 5000  # the tone, not silence
    ring = server.runtime(cid).camera
    latest = ring.latest()
    assert latest is not None and latest.image.shape == (120, 160, 3)


# ---------------------------------------------------------------------- mouth (peer level)


Call = tuple[WebRTCPeer, RTCPeerConnection, list[tuple[float, np.ndarray]], Any]


async def _peer_and_client(
    runtime: ConversationRuntime, avatar: Avatar, settings: WebRTCSettings
) -> Call:
    enable_loopback_candidates()
    peer = WebRTCPeer(runtime, settings=settings, avatar=avatar)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    dc = pc.createDataChannel("app-message")
    pc.addTransceiver("audio", direction="recvonly")
    pc.addTransceiver("video", direction="recvonly")
    frames: list[tuple[float, np.ndarray]] = []
    loop = asyncio.get_running_loop()

    async def consume(track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if track.kind == "video":
                frames.append((loop.time(), cast(av.VideoFrame, frame).to_ndarray(format="rgb24")))

    pc.on("track", lambda t: asyncio.ensure_future(consume(t)))
    await pc.setLocalDescription(await pc.createOffer())
    answer = await peer.answer(pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    await eventually(lambda: dc.readyState == "open", message="data channel open")
    return peer, pc, frames, dc


@asynccontextmanager
async def viseme_call(name: str, avatar: Avatar) -> AsyncIterator[Call]:
    """A runtime whose scripted speech is, each 300 ms "word", lips pressed then open
    wide, and a WebRTC client on it showing `avatar` at 256x256: (peer, client
    connection, received video frames, data channel), all closed at the end."""
    tts = ScriptedTTS(sample_rate=24000, ms_per_word=300, word_visemes=("mbp", "aa"))
    runtime = ConversationRuntime(
        name,
        EngineSettings(),
        RuntimePlugins(tts=tts, llm=ScriptedLLM.replies("unused")),
        SystemClock(),
    )
    await runtime.start()
    settings = WebRTCSettings(video_width=256, video_height=256)
    peer, pc, frames, dc = await _peer_and_client(runtime, avatar, settings)
    try:
        yield peer, pc, frames, dc
    finally:
        await pc.close()
        await peer.close()
        await runtime.shutdown("test over")


def _mouth(frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    return frame[y0:y1, x0:x1].astype(np.int16)


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


def _steps(frames: list[np.ndarray], box: tuple[int, int, int, int]) -> list[float]:
    """How much the mouth region changes from each frame to the next (mean abs level)."""
    mouths = [_mouth(f, box) for f in frames]
    return [_diff(a, b) for a, b in itertools.pairwise(mouths)]


async def test_mouth_moves_while_speaking_and_is_still_while_silent() -> None:
    clock = SystemClock()
    tts = ScriptedTTS(sample_rate=24000, ms_per_word=MS_PER_WORD)
    runtime = ConversationRuntime(
        "mouth",
        EngineSettings(),
        RuntimePlugins(tts=tts, llm=ScriptedLLM.replies("unused")),
        clock,
    )
    await runtime.start()
    # No head motion, so only the mouth can change the mouth region (blinks are above it).
    avatar = CharacterAvatar(BUILTIN_STYLES[0], motion=0.0)
    settings = WebRTCSettings(video_width=256, video_height=256)
    peer, pc, frames, dc = await _peer_and_client(runtime, avatar, settings)
    try:
        assert peer.video is not None
        box = peer.video.stream.mouth_box  # type: ignore[attr-defined]
        # A second of silence (and the codec settles after the keyframe).
        await eventually(lambda: len(frames) >= 25, message="a second of video")
        silent = [f for _, f in frames[-10:]]
        dc.send(
            json.dumps(
                {
                    "event_type": "conversation.echo",
                    "properties": {"text": "la la la la la la la la la la"},
                }
            )
        )
        loop = asyncio.get_running_loop()
        speech_start = loop.time()
        await eventually(lambda: frames[-1][0] > speech_start + 1.4, message="speaking frames")
        speaking = [f for t, f in frames if speech_start + 0.3 < t <= speech_start + 1.4]
        # 2 s of speech, ended 0.9 s before the last frame looked at.
        await eventually(lambda: frames[-1][0] > speech_start + 2.9, message="frames after it")
        after = [f for _, f in frames[-10:]]
        # Lossy VP8 adds a little noise; a moving mouth changes the region many times more.
        assert max(_steps(silent, box)) < 1.5
        ref = _mouth(silent[-1], box)
        assert max(_diff(_mouth(f, box), ref) for f in speaking) > 8.0  # the mouth opened
        assert max(_steps(after[-5:], box)) < 1.5
        assert _diff(_mouth(after[-1], box), ref) < 4.0  # closed again
    finally:
        await pc.close()
        await peer.close()
        await runtime.shutdown("test over")
