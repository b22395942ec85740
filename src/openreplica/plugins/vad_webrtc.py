"""WebRTC's VAD (the `webrtcvad-wheels` package): a tiny, fast GMM fallback.

It gives a hard decision per 30 ms frame, reported as probability 0.0 or 1.0.
"""

from __future__ import annotations

import webrtcvad

__all__ = ["WebRtcVAD", "WebRtcVADStream"]

SAMPLE_RATE = 16000
FRAME = 480  # 30 ms; webrtcvad also takes 10/20 ms but 30 ms is the most robust


class WebRtcVADStream:
    frame_samples: int = FRAME

    def __init__(self, aggressiveness: int) -> None:
        self._aggressiveness = aggressiveness
        self._vad = webrtcvad.Vad(aggressiveness)

    def speech_probability(self, frame: bytes) -> float:
        if len(frame) != 2 * FRAME:
            raise ValueError(f"webrtcvad takes {FRAME} samples, got {len(frame) // 2}")
        return 1.0 if self._vad.is_speech(frame, SAMPLE_RATE) else 0.0

    def reset(self) -> None:
        self._vad = webrtcvad.Vad(self._aggressiveness)


class WebRtcVAD:
    """`aggressiveness` 0 (lets most audio through as speech) .. 3 (strictest)."""

    name = "webrtc"

    def __init__(self, aggressiveness: int = 2) -> None:
        if not 0 <= aggressiveness <= 3:
            raise ValueError(f"aggressiveness must be 0..3, got {aggressiveness}")
        self.aggressiveness = aggressiveness

    def create_stream(self) -> WebRtcVADStream:
        return WebRtcVADStream(self.aggressiveness)
