"""eSpeak NG as a subprocess: robotic but tiny and instant; the no-model fallback TTS."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator

from openreplica.plugins.audio import from_wav, resample
from openreplica.plugins.base import AudioChunk, TTSUnavailable

__all__ = ["EspeakTTS"]

MISSING = "espeak-ng is not installed: apt-get install espeak-ng"


class EspeakTTS:
    """`voice` is an espeak-ng voice name (`-v`), `speed` words per minute (`-s`)."""

    name = "espeak"
    #: espeak-ng's native output rate
    sample_rate = 22050

    def __init__(
        self, voice: str = "en-us", speed: int = 175, executable: str = "espeak-ng"
    ) -> None:
        self.voice = voice
        self.speed = speed
        self.executable = executable

    async def synthesize(self, text: str) -> AsyncIterator[AudioChunk]:
        if not text.strip():
            return
        exe = shutil.which(self.executable)
        if exe is None:
            raise TTSUnavailable(MISSING)
        try:
            proc = await asyncio.create_subprocess_exec(
                exe,
                "--stdout",
                "--stdin",  # text on stdin: never parsed as options, any length
                "-v",
                self.voice,
                "-s",
                str(self.speed),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise TTSUnavailable(f"cannot run {exe}: {exc}") from exc
        try:
            out, err = await proc.communicate(text.encode("utf-8"))
        finally:
            if proc.returncode is None:  # cancelled mid-synthesis: do not leak it
                proc.kill()
                await proc.wait()
        if proc.returncode != 0:
            msg = err.decode("utf-8", "replace").strip()
            raise TTSUnavailable(f"espeak-ng exited with {proc.returncode}: {msg}")
        try:
            chunk = from_wav(out)
        except Exception as exc:
            raise TTSUnavailable(f"espeak-ng produced no valid WAV: {exc}") from exc
        pcm = chunk.pcm
        if chunk.sample_rate != self.sample_rate:
            pcm = resample(pcm, chunk.sample_rate, self.sample_rate)
        if pcm:
            yield AudioChunk(pcm, self.sample_rate)
