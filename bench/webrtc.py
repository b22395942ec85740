"""WebRTC benchmark: CPU per conversation and how many one server process sustains.

The server side (this process) runs N conversations, each a `ConversationRuntime` that
speaks without pause (a scripted 24 kHz tone TTS, echoing again as soon as it stops) and
a `WebRTCPeer` sending Opus audio and, in the video mode, the avatar rendered at 25 fps
and VP8-encoded. N loopback aiortc clients run in a second process; they count the
encoded frames they receive and do not decode them (so the client's cost stays small and
is reported separately): video frames as the jitter buffer assembles them, audio as the
SRTP-authenticated Opus packets arrive (one 20 ms frame each). Per N, over `--seconds`:

- server CPU (user + system, all threads) as % of one core, total and per conversation;
- frames sent per conversation (video fps, audio frames/s: 25 and 50 are full rate) and
  the slowest conversation's received video fps;
- "full rate" = every conversation's video >= 24 fps (and audio >= 48 frames/s) at the
  client.

The "photo" mode is the same with a photoreal replica: the photo rig on the astronaut
(scikit-image's portrait; the face models from `--face-models`, default the test cache in
the venv), its lips driven by the visemes the TTS sends (each word: m/b/p, "ah", "ee",
"oo" in turn), so each frame runs the full viseme path (warp, mouth cavity, blinks,
sway) before VP8.

Also the avatar's render time per frame (render + RGB->I420) at the chosen size.

Run: .venv/bin/python bench/webrtc.py [--audio 10,25,50] [--video 1,3,5,7]
     [--photo 1,2,4,5] [--seconds 6] [--size 384] [--replica r-aria]
Needs loopback UDP (works inside `unshare -n` with `ip link set lo up`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from openreplica.plugins.visemes import Viseme

FPS = 25
TEXT = " ".join(["speaking"] * 40)  # 8 s of tone, then again


# ---------------------------------------------------------------------- client process


def _client_main(conn: Connection, video: bool) -> None:
    import uvloop  # what the server runs on too (uvicorn picks it): the cheaper loop

    uvloop.run(_client(conn, video))


async def _client(conn: Connection, video: bool) -> None:
    import aiortc.rtcrtpreceiver as receiver
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    from openreplica.transports.webrtc import enable_loopback_candidates

    enable_loopback_candidates()
    counters: list[list[Any]] = []  # [kind, frames]

    class CountingDecoder:
        def __init__(self, kind: str) -> None:
            self.entry: list[Any] = [kind, 0]
            counters.append(self.entry)

        def decode(self, encoded: Any) -> list[Any]:
            self.entry[1] += 1
            return []

    receiver.get_decoder = lambda codec: CountingDecoder(codec.mimeType.split("/")[0])  # type: ignore[assignment]
    _count_opus_packets(receiver.RTCRtpReceiver, counters)

    loop = asyncio.get_running_loop()
    pcs: list[RTCPeerConnection] = []
    while True:
        command, arg = await loop.run_in_executor(None, conn.recv)
        if command == "offers":
            offers = []
            for _ in range(arg):
                pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
                pc.createDataChannel("app-message")
                pc.addTransceiver("audio", direction="recvonly")
                if video:
                    pc.addTransceiver("video", direction="recvonly")
                await pc.setLocalDescription(await pc.createOffer())
                pcs.append(pc)
                offers.append(pc.localDescription.sdp)
            conn.send(offers)
        elif command == "answers":
            for pc, sdp in zip(pcs[-len(arg) :], arg, strict=True):
                await pc.setRemoteDescription(RTCSessionDescription(sdp, "answer"))
            conn.send("ok")
        elif command == "counts":
            conn.send(([list(c) for c in counters], time.process_time()))
        elif command == "stop":
            for pc in pcs:
                await pc.close()
            conn.send("stopped")
            return


def _count_opus_packets(cls: Any, counters: list[list[Any]]) -> None:
    """Count audio where it arrives: aiortc sends one 20 ms Opus frame per RTP packet, so
    every SRTP-authenticated packet (decrypted by the DTLS transport before it gets
    here) of the negotiated Opus payload type with a new sequence number is one frame
    received. That is what the decoder would be handed, without what this count does not
    need per packet: receive statistics, NACKs, the jitter buffer and the hand-over to a
    decoder thread (a thread wake-up per packet). Video still goes the whole way (its
    frames are assembled from several packets), to the counting decoder above."""
    handle = cls._handle_rtp_packet
    audio: dict[int, list[Any]] = {}  # id(receiver) -> [entry, last sequence number]

    async def counting(self: Any, packet: Any, arrival_time_ms: int) -> None:
        codec = self._RTCRtpReceiver__codecs.get(packet.payload_type)
        if codec is None or codec.mimeType.lower() != "audio/opus":
            await handle(self, packet, arrival_time_ms)
            return
        seen = audio.get(id(self))
        if seen is None:
            entry: list[Any] = ["audio", 0]
            counters.append(entry)
            seen = audio[id(self)] = [entry, None]
        if packet.payload and packet.sequence_number != seen[1]:
            seen[0][1] += 1
            seen[1] = packet.sequence_number

    cls._handle_rtp_packet = counting


# ---------------------------------------------------------------------- server side


@dataclass
class Result:
    mode: str
    n: int
    cpu_pct: float
    per_conv_pct: float
    video_fps_sent: float
    audio_fps_sent: float
    min_video_fps_recv: float
    min_audio_fps_recv: float
    client_cpu_pct: float

    @property
    def full_rate(self) -> bool:
        video_ok = self.mode == "audio" or self.min_video_fps_recv >= FPS - 1
        return video_ok and self.min_audio_fps_recv >= 48

    def row(self) -> str:
        video = (
            f"{self.video_fps_sent:5.1f} / {self.min_video_fps_recv:5.1f}"
            if self.mode != "audio"
            else "      -      "
        )
        return (
            f"| {self.mode:5} | {self.n:3d} | {self.cpu_pct:6.1f} | {self.per_conv_pct:5.2f} | "
            f"{video} | {self.audio_fps_sent:5.1f} / {self.min_audio_fps_recv:5.1f} | "
            f"{self.client_cpu_pct:5.1f} | {'yes' if self.full_rate else 'NO'} |"
        )


#: what each scripted word's audio shows in the photo mode
WORD_VISEMES: tuple[Viseme, ...] = ("mbp", "aa", "ee", "oo")


async def _conversation(i: int, avatar: Any, size: int, visemes: bool) -> tuple[Any, Any]:
    from openreplica.engine import EngineSettings
    from openreplica.plugins.scripted import ScriptedTTS
    from openreplica.protocol import decode_interaction
    from openreplica.runtime import ConversationRuntime, RuntimePlugins, SystemClock
    from openreplica.transports.webrtc import WebRTCPeer, WebRTCSettings

    cid = f"bench-{i}"
    tts = ScriptedTTS(sample_rate=24000, word_visemes=WORD_VISEMES if visemes else ())
    runtime = ConversationRuntime(cid, EngineSettings(), RuntimePlugins(tts=tts), SystemClock())
    echo = decode_interaction(
        json.dumps({"event_type": "conversation.echo", "properties": {"text": TEXT}}),
        conversation_id=cid,
    )

    def again(event: Any, data: bytes) -> None:
        if event.event_type == "conversation.replica.stopped_speaking":
            asyncio.get_running_loop().call_soon(runtime.submit, echo)

    runtime.subscribe(again)
    await runtime.start()
    runtime.submit(echo)
    settings = WebRTCSettings(video_width=size, video_height=size)
    return runtime, WebRTCPeer(runtime, settings=settings, avatar=avatar)


def photo_avatar(face_models: Path) -> Any:
    """The astronaut as a photo replica."""
    import numpy as np
    from skimage import data

    from openreplica.plugins.avatar.facemesh import FaceModels
    from openreplica.plugins.avatar.photo import PhotoAvatar

    image = np.asarray(data.astronaut(), np.uint8)
    return PhotoAvatar(image, FaceModels.load(face_models), "r-astronaut-photo", "Astronaut")


async def _run(mode: str, n: int, seconds: float, size: int, avatar: Any) -> Result:
    avatar = avatar if mode != "audio" else None
    parent, child = mp.get_context("spawn").Pipe()
    proc = mp.get_context("spawn").Process(target=_client_main, args=(child, mode != "audio"))
    proc.start()
    loop = asyncio.get_running_loop()

    async def ask(command: str, arg: Any = None) -> Any:
        parent.send((command, arg))
        return await loop.run_in_executor(None, parent.recv)

    pairs = [await _conversation(i, avatar, size, mode == "photo") for i in range(n)]
    offers = await ask("offers", n)
    answers = [await peer.answer(sdp) for (_, peer), sdp in zip(pairs, offers, strict=True)]
    await ask("answers", answers)
    await asyncio.sleep(2.0)  # connect, first keyframes, encoder warm-up

    def sent() -> tuple[int, int]:
        video = sum(p.video.frames_sent for _, p in pairs if p.video is not None)
        return video, sum(p.audio.frames_sent for _, p in pairs)

    counts0, client_cpu0 = await ask("counts")
    cpu0, t0, sent0 = time.process_time(), time.perf_counter(), sent()
    await asyncio.sleep(seconds)
    cpu1, t1, sent1 = time.process_time(), time.perf_counter(), sent()
    counts1, client_cpu1 = await ask("counts")
    wall = t1 - t0

    def recv_rates(kind: str) -> list[float]:
        before = [c[1] for c in counts0 if c[0] == kind]
        after = [c[1] for c in counts1 if c[0] == kind]
        before += [0] * (len(after) - len(before))
        return [(a - b) / wall for a, b in zip(after, before, strict=True)]

    video_recv = recv_rates("video")
    audio_recv = recv_rates("audio")
    await ask("stop")
    proc.join(10)
    for runtime, peer in pairs:
        await peer.close()
        await runtime.shutdown("bench over")
    cpu = (cpu1 - cpu0) / wall * 100
    return Result(
        mode,
        n,
        cpu,
        cpu / n,
        (sent1[0] - sent0[0]) / wall / n,
        (sent1[1] - sent0[1]) / wall / n,
        min(video_recv) if len(video_recv) == n else 0.0,
        min(audio_recv) if len(audio_recv) == n else 0.0,
        (client_cpu1 - client_cpu0) / wall * 100,
    )


def render_time(avatar: Any, size: int, frames: int = 300) -> tuple[float, float]:
    import cv2

    from openreplica.plugins.avatar.lipsync import viseme_weights

    stream = avatar.create_stream(size, size, seed=1)
    by_viseme = getattr(stream, "render_visemes", None)
    times = []
    for i in range(frames + 10):
        t0 = time.perf_counter()
        if by_viseme is not None:
            shape = WORD_VISEMES[(i // 3) % len(WORD_VISEMES)]
            rgb = by_viseme(i / FPS, 0.5 * viseme_weights(shape) + 0.5 * viseme_weights("rest"))
        else:
            rgb = stream.render(i / FPS, abs((i % 10) - 5) / 5)
        cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
        if i >= 10:
            times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * len(times))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--audio", default="10,25,50", help="audio-only conversation counts")
    parser.add_argument("--video", default="1,3,5,7", help="audio+video conversation counts")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--size", type=int, default=384, help="avatar video size (square)")
    parser.add_argument("--replica", default="r-aria")
    parser.add_argument("--photo", default="", help="photoreal conversation counts")
    parser.add_argument(
        "--face-models",
        type=Path,
        default=Path(sys.prefix) / "share" / "openreplica-test" / "face",
        help="the face models for the photo mode (openreplica models pull face --dir DIR)",
    )
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    from openreplica.plugins.avatar import AvatarCatalog
    from openreplica.transports.webrtc import enable_loopback_candidates

    enable_loopback_candidates()
    threadpool_limits(1)  # as the server runs (one BLAS thread)

    character = AvatarCatalog().get(args.replica)
    photo = photo_avatar(args.face_models) if args.photo else None
    print(f"machine: {os.cpu_count()} cores; avatar {args.replica} {args.size}x{args.size}")
    for name, avatar in (("character", character), ("photo", photo)):
        if avatar is not None:
            median, p95 = render_time(avatar, args.size)
            print(
                f"{name} {avatar.replica_id}: render + I420 per frame: median {median:.2f} ms, "
                f"p95 {p95:.2f} ms"
            )
    print()
    print(
        "| mode  |   N | CPU %  | %/conv | video fps sent / min recv | audio f/s sent / "
        "min recv | client CPU % | full rate |"
    )
    print("|---|---|---|---|---|---|---|---|")
    runs = [("audio", int(n)) for n in args.audio.split(",") if n]
    runs += [("video", int(n)) for n in args.video.split(",") if n]
    runs += [("photo", int(n)) for n in args.photo.split(",") if n]
    for mode, n in runs:
        avatar = photo if mode == "photo" else character
        result = asyncio.run(_run(mode, n, args.seconds, args.size, avatar))
        print(result.row(), flush=True)


if __name__ == "__main__":
    main()
