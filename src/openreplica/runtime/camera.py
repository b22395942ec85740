"""The user's camera frames, kept for perception.

Transports push decoded frames (RGB uint8, height x width x 3) with the time they were
taken; a conversation keeps only the latest few in a ring (`CameraFrames.capacity`).
Perception reads them with `latest()` / `frames()` whenever it decides to look: nothing is
analysed here and nothing is kept beyond the ring.

One ring per conversation, owned by its runtime (`runtime.camera`), whichever transport the
frames came from (WebRTC today). Transports should throttle what they push (the WebRTC
transport pushes at most `WebRTCSettings.camera_fps` frames per second).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["CameraFrame", "CameraFrames"]


@dataclass(frozen=True, slots=True)
class CameraFrame:
    #: RGB uint8, (height, width, 3)
    image: NDArray[np.uint8]
    #: clock time (Unix seconds) when the frame was received
    timestamp: float


class CameraFrames:
    """A small ring of the most recent camera frames of one conversation."""

    def __init__(self, capacity: int = 8) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._ring: deque[CameraFrame] = deque(maxlen=capacity)
        #: how many frames were ever pushed
        self.total = 0

    def push(self, image: NDArray[np.uint8], timestamp: float) -> None:
        self._ring.append(CameraFrame(image, timestamp))
        self.total += 1

    def latest(self) -> CameraFrame | None:
        return self._ring[-1] if self._ring else None

    def frames(self, since: float | None = None) -> list[CameraFrame]:
        """Oldest first; only those taken after `since` when given."""
        return [f for f in self._ring if since is None or f.timestamp > since]

    def __len__(self) -> int:
        return len(self._ring)
