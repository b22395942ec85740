"""The stream of a recogniser that transcribes whole utterances (Whisper-style): it
buffers the audio while the user talks and transcribes it all on `finish`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from openreplica.plugins.base import Transcript

__all__ = ["BufferedASRStream"]


class BufferedASRStream:
    """`transcribe(pcm16k) -> text` runs once per utterance. With `max_bytes`, the oldest
    audio is dropped rather than the buffer growing without bound on a stuck VAD."""

    def __init__(
        self, transcribe: Callable[[bytes], Awaitable[str]], max_bytes: int | None = None
    ) -> None:
        self._transcribe = transcribe
        self._max_bytes = max_bytes
        self._buf = bytearray()

    async def push(self, pcm16k: bytes) -> Transcript | None:
        self._buf += pcm16k
        if self._max_bytes is not None:
            excess = len(self._buf) - self._max_bytes
            if excess > 0:
                del self._buf[: excess + excess % 2]
        return None

    async def finish(self) -> Transcript:
        pcm = bytes(self._buf)
        self._buf.clear()
        if not pcm:
            return Transcript("", final=True)
        return Transcript(await self._transcribe(pcm), final=True)

    async def aclose(self) -> None:
        self._buf.clear()
