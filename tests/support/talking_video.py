"""A synthetic talking-head video made at test time: the photo rig (on a portrait)
speaking Piper's speech, lips set per frame by Piper's own phoneme alignment, swaying
and blinking, encoded by PyAV as H.264 + AAC in MP4 (or any container/codec asked).

The true viseme of every 25 fps frame is returned, so tests can score a video replica's
choices against what the frame really shows.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass

import av
import numpy as np
from numpy.typing import NDArray

from openreplica.plugins.audio import resample
from openreplica.plugins.avatar.facemesh import FaceModels
from openreplica.plugins.avatar.lipsync import viseme_weights
from openreplica.plugins.avatar.motion import BlinkSchedule, HeadMotion
from openreplica.plugins.avatar.photo_rig import PhotoRig
from openreplica.plugins.tts_piper import PiperTTS
from openreplica.plugins.visemes import Viseme, VisemeMark, viseme_at

__all__ = ["TalkingVideo", "encode_video", "piper_speech", "talking_video"]

FPS = 25
AUDIO_RATE = 24000


@dataclass(frozen=True, slots=True)
class TalkingVideo:
    data: bytes  # the encoded file
    labels: list[Viseme]  # the viseme each 25 fps frame shows
    pcm: bytes  # the audio, 16-bit mono at AUDIO_RATE
    marks: tuple[VisemeMark, ...]  # Piper's, in AUDIO_RATE samples


def piper_speech(
    text: str, lead_s: float = 0.6, tail_s: float = 0.6
) -> tuple[bytes, tuple[VisemeMark, ...]]:
    """Piper speaking `text` (AUDIO_RATE) with silence around, and its viseme marks."""
    tts = PiperTTS.default(threads=1, noise_scale=0.0, noise_w_scale=0.0)

    async def run() -> list[tuple[bytes, int, tuple[VisemeMark, ...]]]:
        return [(c.pcm, c.sample_rate, c.visemes) async for c in tts.synthesize(text)]

    lead = round(lead_s * AUDIO_RATE)
    parts = [bytes(2 * lead)]
    marks: list[VisemeMark] = [VisemeMark(0, "rest")]
    offset = lead
    for pcm, rate, chunk_marks in asyncio.run(run()):
        k = AUDIO_RATE / rate
        marks += [VisemeMark(offset + round(m.offset * k), m.viseme) for m in chunk_marks]
        pcm = resample(pcm, rate, AUDIO_RATE)
        parts.append(pcm)
        offset += len(pcm) // 2
    marks.append(VisemeMark(offset, "rest"))
    parts.append(bytes(2 * round(tail_s * AUDIO_RATE)))
    return b"".join(parts), tuple(marks)


def encode_video(
    frames: list[NDArray[np.uint8]],
    pcm: bytes | None,
    container: str = "mp4",
    codec: str = "libx264",
    audio_codec: str = "aac",
    fps: int = FPS,
) -> bytes:
    out = io.BytesIO()
    with av.open(out, mode="w", format=container) as c:
        h, w = frames[0].shape[:2]
        video = c.add_stream(codec, rate=fps)
        assert isinstance(video, av.VideoStream)
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        video.options = {"crf": "20"} if codec == "libx264" else {}
        audio = c.add_stream(audio_codec, rate=AUDIO_RATE, layout="mono") if pcm else None
        assert audio is None or isinstance(audio, av.AudioStream)
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            c.mux(video.encode(frame))
        c.mux(video.encode())
        if audio is not None and pcm:
            samples = np.frombuffer(pcm, "<i2")
            step = 1024
            for i in range(0, len(samples), step):
                piece = samples[i : i + step]
                if len(piece) < step:
                    piece = np.concatenate([piece, np.zeros(step - len(piece), "<i2")])
                sound = av.AudioFrame.from_ndarray(piece[None, :], format="s16", layout="mono")
                sound.sample_rate = AUDIO_RATE
                sound.pts = i
                c.mux(audio.encode(sound))
            c.mux(audio.encode())
    return out.getvalue()


def talking_video(
    models: FaceModels,
    portrait: NDArray[np.uint8],
    text: str,
    size: int = 256,
    seed: int = 3,
    silent: bool = False,
) -> TalkingVideo:
    """The rig speaking `text` with Piper's audio and timing (`silent`: keep the
    lips moving but put silence on the soundtrack)."""
    pcm, marks = piper_speech(text)
    rig = PhotoRig(portrait, models, size, size)
    motion, blinks = HeadMotion(seed, float(size), 0.45), BlinkSchedule(seed)
    n = len(pcm) // 2 * FPS // AUDIO_RATE
    labels = [viseme_at(marks, round((i + 0.5) * AUDIO_RATE / FPS)) for i in range(n)]
    frames = [
        rig.render(viseme_weights(v), blinks.closure(i / FPS), motion.pose(i / FPS))
        for i, v in enumerate(labels)
    ]
    sound = bytes(len(pcm)) if silent else pcm
    return TalkingVideo(encode_video(frames, sound), labels, pcm, marks)
