"""OpenAI-compatible ASR and TTS clients against a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from stub_http import Handler, Reply, Request, StubServer

from openreplica.plugins.asr_openai import OpenAICompatibleASR
from openreplica.plugins.audio import from_wav, tone
from openreplica.plugins.base import ASRUnavailable, Transcript, TTSUnavailable
from openreplica.plugins.tts_openai import OpenAICompatibleTTS

StartServer = Callable[[Handler], Awaitable[StubServer]]


def multipart_fields(req: Request) -> dict[str, bytes]:
    """Parse a multipart/form-data body into {field name: raw value}."""
    boundary = re.search(r"boundary=([^;]+)", req.headers["content-type"])
    assert boundary is not None
    fields: dict[str, bytes] = {}
    for part in req.body.split(b"--" + boundary.group(1).encode()):
        if b"\r\n\r\n" not in part:
            continue
        head, value = part.split(b"\r\n\r\n", 1)
        name = re.search(rb'name="([^"]+)"', head)
        assert name is not None
        fields[name.group(1).decode()] = value.removesuffix(b"\r\n")
    return fields


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------ ASR


async def test_asr_posts_the_utterance_as_wav(stub_server: StartServer) -> None:
    async def handler(req: Request) -> Reply:
        return Reply(body=json.dumps({"text": " hello there "}).encode())

    server = await stub_server(handler)
    asr = OpenAICompatibleASR(server.url + "/v1", api_key="k", model="whisper-large", language="en")
    assert not asr.streams_partials
    stream = asr.create_stream()
    audio = tone(300, 0.5, 16000)
    for i in range(0, len(audio), 640):
        assert await stream.push(audio[i : i + 640]) is None
    assert await stream.finish() == Transcript("hello there", final=True)

    (req,) = server.requests
    assert (req.method, req.path) == ("POST", "/v1/audio/transcriptions")
    assert req.headers["authorization"] == "Bearer k"
    fields = multipart_fields(req)
    assert fields["model"] == b"whisper-large"
    assert fields["language"] == b"en"
    wav = from_wav(fields["file"])
    assert wav.sample_rate == 16000
    assert wav.pcm == audio

    # the buffer was consumed: an empty utterance sends nothing
    assert await stream.finish() == Transcript("", final=True)
    assert len(server.requests) == 1
    await asr.aclose()


async def test_asr_http_error_is_asr_unavailable(stub_server: StartServer) -> None:
    async def handler(req: Request) -> Reply:
        return Reply(status=503, body=b"overloaded")

    server = await stub_server(handler)
    asr = OpenAICompatibleASR(server.url)
    stream = asr.create_stream()
    await stream.push(tone(300, 0.1, 16000))
    with pytest.raises(ASRUnavailable, match="HTTP 503: overloaded") as info:
        await stream.finish()
    assert info.value.code == "asr_unavailable"
    await asr.aclose()


async def test_asr_malformed_response(stub_server: StartServer) -> None:
    async def handler(req: Request) -> Reply:
        return Reply(body=b"<html>not json</html>")

    asr = OpenAICompatibleASR((await stub_server(handler)).url)
    with pytest.raises(ASRUnavailable, match="malformed"):
        await asr.transcribe(tone(300, 0.1, 16000))
    await asr.aclose()


async def test_asr_connection_refused_and_timeout(stub_server: StartServer) -> None:
    asr = OpenAICompatibleASR(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ASRUnavailable, match="cannot connect"):
        await asr.transcribe(tone(300, 0.1, 16000))
    await asr.aclose()

    async def hang(req: Request) -> Reply:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    slow = OpenAICompatibleASR((await stub_server(hang)).url, timeout=0.3)
    with pytest.raises(ASRUnavailable, match="no response"):
        await slow.transcribe(tone(300, 0.1, 16000))
    await slow.aclose()


async def test_asr_buffer_is_bounded() -> None:
    asr = OpenAICompatibleASR("http://127.0.0.1:9", max_seconds=0.5)
    stream = asr.create_stream()
    for _ in range(10):
        await stream.push(tone(300, 0.2, 16000))
    assert len(stream._buf) == 2 * 8000
    await asr.aclose()


# ------------------------------------------------------------------------------ TTS


async def test_tts_streams_pcm_back(stub_server: StartServer) -> None:
    audio = tone(440, 0.5, 24000)

    async def odd_pieces() -> AsyncIterator[bytes]:
        # odd-sized network chunks: samples arrive split across reads
        for i in range(0, len(audio), 1001):
            yield audio[i : i + 1001]
            await asyncio.sleep(0)

    async def handler(req: Request) -> Reply:
        return Reply(headers={"content-type": "audio/pcm"}, body=odd_pieces())

    server = await stub_server(handler)
    tts = OpenAICompatibleTTS(
        server.url + "/v1", api_key="k", model="tts-x", voice="nova", speed=1.25
    )
    assert tts.sample_rate == 24000
    chunks = [c async for c in tts.synthesize("Hello there.")]
    assert all(c.sample_rate == 24000 and len(c.pcm) % 2 == 0 for c in chunks)
    assert b"".join(c.pcm for c in chunks) == audio
    assert len(chunks) > 1  # streamed, not one blob

    (req,) = server.requests
    assert (req.method, req.path) == ("POST", "/v1/audio/speech")
    assert req.headers["authorization"] == "Bearer k"
    assert req.json() == {
        "model": "tts-x",
        "voice": "nova",
        "input": "Hello there.",
        "response_format": "pcm",
        "speed": 1.25,
    }
    await tts.aclose()


async def test_tts_errors_are_tts_unavailable(stub_server: StartServer) -> None:
    async def handler(req: Request) -> Reply:
        return Reply(status=401, body=b'{"error": "bad key"}')

    tts = OpenAICompatibleTTS((await stub_server(handler)).url)
    with pytest.raises(TTSUnavailable, match=r"HTTP 401.*bad key") as info:
        [c async for c in tts.synthesize("hi")]
    assert info.value.code == "tts_unavailable"
    await tts.aclose()

    refused = OpenAICompatibleTTS(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(TTSUnavailable, match="cannot connect"):
        [c async for c in refused.synthesize("hi")]
    await refused.aclose()
