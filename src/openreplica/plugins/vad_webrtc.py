"""WebRTC's VAD (the `webrtcvad-wheels` package): a tiny, fast GMM fallback.

It gives a hard decision per 30 ms frame, reported as probability 0.0 or 1.0. Its noise
model starts from a guess and calls the first ~100 ms of any background noise speech,
so each stream reports its first `warmup_frames` as silence while the model adapts.
"""

from __future__ import annotations

import webrtcvad

__all__ = ["WebRtcVAD", "WebRtcVADStream"]

SAMPLE_RATE = 16000
FRAME = 480  # 30 ms; webrtcvad also takes 10/20 ms but 30 ms is the most robust
WARMUP_FRAMES = 4  # 120 ms


class WebRtcVADStream:
    frame_samples: int = FRAME

    def __init__(self, aggressiveness: int, warmup_frames: int = WARMUP_FRAMES) -> None:
        self._aggressiveness = aggressiveness
        self._warmup_frames = warmup_frames
        self._vad = webrtcvad.Vad(aggressiveness)
        self._warmup = warmup_frames

    def speech_probability(self, frame: bytes) -> float:
        if len(frame) != 2 * FRAME:
            raise ValueError(f"webrtcvad takes {FRAME} samples, got {len(frame) // 2}")
        speech = self._vad.is_speech(frame, SAMPLE_RATE)
        if self._warmup > 0:
            self._warmup -= 1
            return 0.0
        return 1.0 if speech else 0.0

    def reset(self) -> None:
        self._vad = webrtcvad.Vad(self._aggressiveness)
        self._warmup = self._warmup_frames


class WebRtcVAD:
    """`aggressiveness` 0 (lets most audio through as speech) .. 3 (strictest)."""

    name = "webrtc"

    def __init__(self, aggressiveness: int = 2, warmup_frames: int = WARMUP_FRAMES) -> None:
        if not 0 <= aggressiveness <= 3:
            raise ValueError(f"aggressiveness must be 0..3, got {aggressiveness}")
        self.aggressiveness = aggressiveness
        self.warmup_frames = warmup_frames

    def create_stream(self) -> WebRtcVADStream:
        return WebRtcVADStream(self.aggressiveness, self.warmup_frames)
