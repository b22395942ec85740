"""Any OpenAI-compatible transcription server (`POST {base_url}/audio/transcriptions`).

Whisper-style servers transcribe whole files, so the stream buffers the utterance and
sends it as a WAV when the user stops talking (no partial transcripts).
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from openreplica.plugins.asr_buffered import BufferedASRStream
from openreplica.plugins.audio import to_wav
from openreplica.plugins.base import ASRUnavailable
from openreplica.plugins.openai_http import async_http_client, describe_http_error

__all__ = ["OpenAICompatibleASR"]

SAMPLE_RATE = 16000


class OpenAICompatibleASR:
    """`model` is sent as the form field (e.g. `whisper-1`); `language` is optional."""

    name = "openai"
    streams_partials = False
    finish_holds_loop = False

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        model: str = "whisper-1",
        language: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        max_seconds: float = 120.0,
        trust_env: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.language = language
        self.max_bytes = int(max_seconds * SAMPLE_RATE) * 2
        self._client = async_http_client(
            api_key=api_key, headers=headers, timeout=timeout, trust_env=trust_env
        )

    def create_stream(self) -> BufferedASRStream:
        return BufferedASRStream(self.transcribe, self.max_bytes)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def transcribe(self, pcm16k: bytes) -> str:
        """Send one utterance (16 kHz int16 mono) and return its text."""
        url = f"{self.base_url}/audio/transcriptions"
        data = {"model": self.model, "response_format": "json"}
        if self.language:
            data["language"] = self.language
        files = {"file": ("utterance.wav", to_wav(pcm16k, SAMPLE_RATE), "audio/wav")}
        try:
            resp = await self._client.post(url, data=data, files=files)
        except httpx.HTTPError as exc:
            raise ASRUnavailable(f"ASR at {self.base_url}: {describe_http_error(exc)}") from exc
        if resp.status_code >= 400:
            raise ASRUnavailable(
                f"ASR at {self.base_url}: HTTP {resp.status_code}: {resp.text[:300]}"
            )
        try:
            body = resp.json()
            text = body["text"] if isinstance(body, dict) else None
        except (ValueError, KeyError):
            text = None
        if not isinstance(text, str):
            raise ASRUnavailable(f"ASR at {self.base_url}: malformed response: {resp.text[:300]!r}")
        return text.strip()
