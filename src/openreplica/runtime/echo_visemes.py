"""Visemes for audio that comes with none: echoed audio (`conversation.echo` with
`modality: "audio"`) has no text and no timing, so its mouth shapes are estimated from
the sound itself (`plugins/viseme_audio.py`).

The runtime tells `EchoVisemes` of every synthesised chunk just before the engine plays
it (`announce`); a chunk played without that announcement came from the client, and
`marks` estimates its visemes, one stream per (generation, segment) so the estimate
keeps its context across the chunks of one echo. A generation stopped or drained is
forgotten (`forget`).
"""

from __future__ import annotations

from openreplica.plugins.viseme_audio import AudioVisemeModel, AudioVisemeStream
from openreplica.plugins.visemes import VisemeMark

__all__ = ["EchoVisemes"]

_Key = tuple[int, int]


class EchoVisemes:
    def __init__(self, model: AudioVisemeModel | None) -> None:
        """`model` None: echoed audio gets no visemes (the face follows its level)."""
        self._model = model
        #: synthesised chunks announced and not played yet, per (generation, segment)
        self._announced: dict[_Key, int] = {}
        self._streams: dict[_Key, AudioVisemeStream] = {}

    def announce(self, gen: int, segment: int) -> None:
        """A synthesised chunk (timed by its TTS or not) is on its way to playout."""
        key = (gen, segment)
        self._announced[key] = self._announced.get(key, 0) + 1

    def marks(self, gen: int, segment: int, pcm: bytes, rate: int) -> tuple[VisemeMark, ...] | None:
        """This audio is being played: None when it was announced (its visemes are
        known), else the estimated marks (empty without a model)."""
        key = (gen, segment)
        waiting = self._announced.get(key, 0)
        if waiting:
            if waiting == 1:
                del self._announced[key]
            else:
                self._announced[key] = waiting - 1
            return None
        if self._model is None:
            return ()
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = AudioVisemeStream(self._model)
        return stream.marks(pcm, rate)

    def forget(self, gen: int) -> None:
        for table in (self._announced, self._streams):
            for key in [k for k in table if k[0] == gen]:
                del table[key]
