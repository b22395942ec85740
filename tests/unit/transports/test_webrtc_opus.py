"""The replica's audio track encodes Opus itself, on the event loop, when the call
negotiated Opus (aiortc would encode each frame in a thread pool: a hop per 20 ms frame
that cost more CPU than the encoding), and sends frames for aiortc to encode otherwise."""

from __future__ import annotations

import asyncio
import fractions
import itertools

import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender
from aiortc.codecs.opus import OpusDecoder
from aiortc.jitterbuffer import JitterFrame
from av.stream import Stream

from openreplica.engine import EngineSettings
from openreplica.plugins.audio import tone
from openreplica.plugins.scripted import ScriptedLLM, ScriptedTTS
from openreplica.runtime import ConversationRuntime, RuntimePlugins, VirtualClock
from openreplica.transports.webrtc import WebRTCPeer
from openreplica.transports.webrtc_tracks import AUDIO_FRAME_SAMPLES, ReplicaAudioTrack, SpeechFeed


async def _recv(track: ReplicaAudioTrack, clock: VirtualClock) -> av.AudioFrame | av.Packet[Stream]:
    task = asyncio.create_task(track.recv())
    while not task.done():
        await clock.advance(0.02)
    return await task


async def test_opus_packets_decode_to_the_speech_then_silence() -> None:
    clock = VirtualClock()
    feed = SpeechFeed()
    track = ReplicaAudioTrack(feed, clock)
    track.encode_opus()
    chunk = tone(440.0, 0.02, 48000, amplitude=0.4)
    stamps, peaks = [], []
    decoder = OpusDecoder()
    for i in range(30):  # playout writes 15 frames of speech, one per 20 ms
        if i < 15:
            feed.write(chunk, 48000)
        packet = await _recv(track, clock)
        assert isinstance(packet, av.Packet) and packet.pts is not None
        assert packet.time_base == fractions.Fraction(1, 48000)
        stamps.append(packet.pts)
        (frame,) = decoder.decode(JitterFrame(bytes(packet), packet.pts))
        assert isinstance(frame, av.AudioFrame) and frame.samples == AUDIO_FRAME_SAMPLES
        peaks.append(int(np.abs(frame.to_ndarray()).max()))
    assert {b - a for a, b in itertools.pairwise(stamps)} == {AUDIO_FRAME_SAMPLES}
    loud = [i for i, peak in enumerate(peaks) if peak > 5000]
    # 0.3 s of tone is 15 frames; the encoder's look-ahead may spread its edges by one
    assert 14 <= len(loud) <= 17 and loud == list(range(loud[0], loud[-1] + 1))
    assert max(peaks[loud[-1] + 3 :]) < 100  # silence after it


async def test_frames_until_opus_is_negotiated() -> None:
    clock = VirtualClock()
    track = ReplicaAudioTrack(SpeechFeed(), clock)
    frame = await _recv(track, clock)
    assert isinstance(frame, av.AudioFrame) and frame.samples == AUDIO_FRAME_SAMPLES
    assert not track.encodes_opus


async def _answer(audio_codec: str | None) -> WebRTCPeer:
    """A peer that answered an offer whose audio prefers `audio_codec` (None: aiortc's
    own order, Opus first, as browsers offer)."""
    runtime = ConversationRuntime(
        "c-opus",
        EngineSettings(output_sample_rate=16000),
        RuntimePlugins(tts=ScriptedTTS(), llm=ScriptedLLM.replies("Fine.")),
        VirtualClock(),
    )
    client = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    client.createDataChannel("app-message")
    transceiver = client.addTransceiver("audio", direction="recvonly")
    if audio_codec is not None:
        codecs = RTCRtpSender.getCapabilities("audio").codecs
        transceiver.setCodecPreferences([c for c in codecs if c.mimeType == audio_codec])
    await client.setLocalDescription(await client.createOffer())
    peer = WebRTCPeer(runtime)
    try:
        await peer.answer(client.localDescription.sdp)
    finally:
        await client.close()
    return peer


async def test_an_opus_call_gets_packets_encoded_on_the_loop() -> None:
    peer = await _answer(None)
    try:
        assert peer.audio.encodes_opus
    finally:
        await peer.close()


async def test_a_call_without_opus_gets_frames_for_aiortc_to_encode() -> None:
    peer = await _answer("audio/PCMU")
    try:
        assert "PCMU/8000" in peer.pc.localDescription.sdp
        assert "opus" not in peer.pc.localDescription.sdp
        assert not peer.audio.encodes_opus
    finally:
        await peer.close()
