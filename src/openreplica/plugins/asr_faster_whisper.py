"""Optional Whisper ASR via `faster-whisper` (CTranslate2), imported lazily.

Whisper transcribes whole utterances, so the stream buffers audio and decodes on
`finish` in a worker thread. The model loads on first use; a missing package or model
becomes `ASRUnavailable` naming what to install.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Protocol

from openreplica.plugins.asr_buffered import BufferedASRStream
from openreplica.plugins.audio import pcm16_to_float
from openreplica.plugins.base import ASRUnavailable

__all__ = ["FasterWhisperASR"]

SAMPLE_RATE = 16000


class _Segment(Protocol):
    text: str


class FasterWhisperASR:
    """`model` is a size name ("base.en", "small", …) or a local model directory.

    `download=False` (the default) never touches the network: the model must already
    be in the Hugging Face cache or at the given path.
    """

    name = "faster-whisper"
    streams_partials = False
    finish_holds_loop = False

    def __init__(
        self,
        model: str = "base.en",
        *,
        language: str | None = "en",
        device: str = "cpu",
        compute_type: str = "int8",
        cpu_threads: int = 0,
        beam_size: int = 1,
        download: bool = False,
    ) -> None:
        self.model = model
        self.language = language
        self.device = device
        self.compute_type = compute_type
        self.cpu_threads = cpu_threads
        self.beam_size = beam_size
        self.download = download
        self._whisper: object | None = None
        self._lock = threading.Lock()

    def create_stream(self) -> BufferedASRStream:
        return BufferedASRStream(lambda pcm: asyncio.to_thread(self.transcribe, pcm))

    def load(self) -> object:
        """Load the model now (blocking)."""
        with self._lock:
            if self._whisper is None:
                self._whisper = self._load()
            return self._whisper

    def _load(self) -> object:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise ASRUnavailable(
                "faster-whisper is not installed: pip install 'openreplica[faster-whisper]'"
            ) from exc
        try:
            return WhisperModel(
                self.model,
                device=self.device,
                compute_type=self.compute_type,
                cpu_threads=self.cpu_threads,
                local_files_only=not self.download,
            )
        except Exception as exc:  # hub lookup errors, missing files, bad formats
            raise ASRUnavailable(
                f"faster-whisper model {self.model!r} is not available locally: {exc}"
            ) from exc

    def transcribe(self, pcm16k: bytes) -> str:
        """Blocking: decode one utterance of 16 kHz int16 mono."""
        whisper = self.load()
        audio = pcm16_to_float(pcm16k)
        try:
            segments, _info = whisper.transcribe(  # type: ignore[attr-defined]
                audio, language=self.language, beam_size=self.beam_size
            )
            parts: list[_Segment] = list(segments)
        except Exception as exc:
            raise ASRUnavailable(f"faster-whisper failed: {exc}") from exc
        return " ".join(s.text.strip() for s in parts).strip()
