"""Any OpenAI-compatible speech server (`POST {base_url}/audio/speech`).

We ask for `response_format: "pcm"`, which OpenAI defines as raw 24 kHz 16-bit
little-endian mono, and stream it back in chunks as it arrives.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import httpx

from openreplica.plugins.base import AudioChunk, TTSUnavailable
from openreplica.plugins.openai_http import async_http_client, describe_http_error

__all__ = ["OpenAICompatibleTTS"]

#: the fixed rate of OpenAI's "pcm" response format
PCM_RATE = 24000
#: ~100 ms per yielded chunk: small enough to start playout early
_CHUNK_BYTES = PCM_RATE // 10 * 2


class OpenAICompatibleTTS:
    name = "openai"
    sample_rate = PCM_RATE

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        model: str = "tts-1",
        voice: str = "alloy",
        speed: float | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        trust_env: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.voice = voice
        self.speed = speed
        self._client = async_http_client(
            api_key=api_key, headers=headers, timeout=timeout, trust_env=trust_env
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def synthesize(self, text: str) -> AsyncIterator[AudioChunk]:
        if not text.strip():
            return
        body: dict[str, object] = {
            "model": self.model,
            "voice": self.voice,
            "input": text,
            "response_format": "pcm",
        }
        if self.speed is not None:
            body["speed"] = self.speed
        url = f"{self.base_url}/audio/speech"
        carry = b""  # an odd byte split across network chunks
        try:
            async with self._client.stream("POST", url, json=body) as resp:
                if resp.status_code >= 400:
                    detail = (await resp.aread()).decode("utf-8", "replace")[:300]
                    raise TTSUnavailable(
                        f"TTS at {self.base_url}: HTTP {resp.status_code}: {detail}"
                    )
                async for data in resp.aiter_bytes(_CHUNK_BYTES):
                    data = carry + data
                    even = len(data) - len(data) % 2
                    carry = data[even:]
                    if even:
                        yield AudioChunk(data[:even], PCM_RATE)
        except httpx.HTTPError as exc:
            raise TTSUnavailable(f"TTS at {self.base_url}: {describe_http_error(exc)}") from exc
