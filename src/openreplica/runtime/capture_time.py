"""When the user's audio was captured, estimated from when it arrived.

Audio is analysed when the event loop gets round to it, not when it was spoken: while
the loop is busy (a reply being prepared, a final ASR pass), a transport's audio waits
in the kernel or in a queue and then comes in a burst. An edge found in that burst
happened earlier than it was found, by however late its audio arrived.

Arrival can only be late, never early: for each push, `arrival - media_time` (the wall
time at which media time 0 would have been captured) is the capture offset plus some
delay. Its minimum over a recent window is the best estimate of the offset, and a
push's lateness is how far its own offset lies above that minimum. The window is short
(in arrival time) so that clock drift between the sender and us cannot accumulate, and
so that a gap in the audio (a sender that stops sending during silence) is soon no
longer mistaken for lateness; it only needs to outlast a stall of the loop.
"""

from __future__ import annotations

from collections import deque

__all__ = ["WINDOW", "CaptureTimes"]

#: seconds of arrivals the minimum is taken over: longer than any stall worth
#: correcting, short against drift and sending gaps
WINDOW = 0.5


class CaptureTimes:
    """A sliding-window minimum of each push's `arrival - media_time`."""

    def __init__(self, window: float = WINDOW) -> None:
        self.window = window
        # (arrival, offset), offsets increasing: the front is the window's minimum
        self._offsets: deque[tuple[float, float]] = deque()

    def arrived(self, media_time: float, at: float) -> float:
        """The audio up to `media_time` (seconds) arrived at `at` (the runtime's clock).
        Returns how late it arrived: seconds after the estimated capture, >= 0."""
        offset = at - media_time
        offsets = self._offsets
        while offsets and offsets[-1][1] >= offset:
            offsets.pop()  # never the minimum again: later and no smaller
        offsets.append((at, offset))
        while offsets[0][0] < at - self.window:
            offsets.popleft()
        return offset - offsets[0][1]

    def reset(self) -> None:
        """The stream restarted (a new track, a gap announced by the transport)."""
        self._offsets.clear()
