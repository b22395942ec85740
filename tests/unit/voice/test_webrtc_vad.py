"""webrtcvad, the light alternative VAD, through the voice path's frame contract."""

from __future__ import annotations

import numpy as np

from openreplica.plugins.audio import float_to_pcm16
from openreplica.plugins.vad_webrtc import FRAME, WARMUP_FRAMES, WebRtcVAD


def noise(seconds: float, amplitude: float = 0.003) -> bytes:
    samples = np.random.default_rng(1).normal(0.0, amplitude, round(seconds * 16000))
    return float_to_pcm16(samples)


def decisions(stream_pcm: bytes, vad: WebRtcVAD) -> list[float]:
    stream = vad.create_stream()
    step = 2 * FRAME
    return [
        stream.speech_probability(stream_pcm[i : i + step])
        for i in range(0, len(stream_pcm) - step + 1, step)
    ]


def test_background_noise_at_the_start_of_a_stream_is_not_speech() -> None:
    # unwarmed, webrtcvad calls the first ~100 ms of noise speech
    raw = decisions(noise(1.0), WebRtcVAD(2, warmup_frames=0))
    assert any(raw[:WARMUP_FRAMES])
    assert decisions(noise(1.0), WebRtcVAD(2)) == [0.0] * len(raw)


def test_reset_warms_up_again() -> None:
    stream = WebRtcVAD(2).create_stream()
    pcm = noise(0.3)
    step = 2 * FRAME
    first = [
        stream.speech_probability(pcm[i : i + step]) for i in range(0, len(pcm) - step + 1, step)
    ]
    stream.reset()
    second = [
        stream.speech_probability(pcm[i : i + step]) for i in range(0, len(pcm) - step + 1, step)
    ]
    assert first == second == [0.0] * len(first)
