"""Everyone who hears a conversation's replica: the played audio frames and the mouth
shape of each, handed to every listener (one per WebRTC peer, say).

The runtime owns one `SpeechFanout`; it is the playout's audio sink and the viseme sink
while at least one listener is attached, and neither once the last one leaves.
"""

from __future__ import annotations

from typing import Protocol

from openreplica.plugins.visemes import Viseme

__all__ = ["SpeechFanout", "SpeechListener"]


class SpeechListener(Protocol):
    """An audio sink (`runtime.playout.AudioSink`) that also takes visemes
    (`runtime.visemes.VisemeSink`)."""

    def write(self, pcm: bytes, sample_rate: int) -> None: ...

    def write_viseme(self, viseme: Viseme) -> None: ...

    def rest(self) -> None: ...


class SpeechFanout:
    def __init__(self) -> None:
        self.listeners: list[SpeechListener] = []

    def write(self, pcm: bytes, sample_rate: int) -> None:
        for listener in self.listeners:
            listener.write(pcm, sample_rate)

    def write_viseme(self, viseme: Viseme) -> None:
        for listener in self.listeners:
            listener.write_viseme(viseme)

    def rest(self) -> None:
        for listener in self.listeners:
            listener.rest()
