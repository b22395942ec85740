"""A spoken conversation through the OpenAI-compatible ASR and TTS clients, against
HTTP servers started by the test: transcription on each speech end, speech back, and
an ASR outage that costs one turn, not the conversation."""

from __future__ import annotations

import asyncio
import json

from stub_http import Reply, Request, StubServer
from voice_harness import RATE, Listening, listening

from openreplica import protocol as p
from openreplica.plugins.asr_openai import OpenAICompatibleASR
from openreplica.plugins.audio import from_wav, silence, tone
from openreplica.plugins.scripted import ScriptedLLM, ScriptedVAD
from openreplica.plugins.tts_openai import OpenAICompatibleTTS
from openreplica.runtime.voice import VoiceSettings


def wav_of(req: Request) -> bytes:
    """The `file` part of a multipart transcription request."""
    boundary = req.headers["content-type"].split("boundary=")[1].encode()
    for part in req.body.split(b"--" + boundary):
        if b'name="file"' in part:
            return part.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n", 1)[0]
    raise AssertionError("no file part")


async def wait_for(h: Listening, kind: type, count: int = 1) -> None:
    """Let real HTTP calls finish while the virtual clock moves in playout frames."""
    for _ in range(200):
        if len(h.of(kind)) >= count:
            return
        await asyncio.sleep(0.005)
        await h.clock.advance(0.02)
    raise AssertionError(f"no {kind.__name__}")


async def test_spoken_turns_over_http_asr_and_tts() -> None:
    answers = [
        Reply(body=json.dumps({"text": "what time is it"}).encode()),
        Reply(500, body=b"GPU on fire"),
    ]

    async def asr_handler(req: Request) -> Reply:
        return answers.pop(0)

    async def tts_handler(req: Request) -> Reply:
        body = req.json()
        assert body["response_format"] == "pcm" and body["voice"] == "nova"
        return Reply(body=tone(300, 0.4, 24000))

    asr_server, tts_server = StubServer(asr_handler), StubServer(tts_handler)
    await asr_server.start()
    await tts_server.start()
    asr = OpenAICompatibleASR(asr_server.url + "/v1", model="whisper-1")
    tts = OpenAICompatibleTTS(tts_server.url + "/v1", voice="nova")
    try:
        h = await listening(
            tts=tts,
            llm=ScriptedLLM.replies("It is noon."),
            vad=ScriptedVAD(frame_samples=512),
            asr=asr,
            output_rate=24000,
        )
        speech = tone(220, 1.0, RATE, amplitude=0.3)
        await h.push(silence(RATE // 2) + speech + silence(RATE // 2))
        await wait_for(h, p.ReplicaStoppedSpeaking)

        assert [t for _, t in h.user_utterances()] == ["what time is it"]
        (req,) = asr_server.requests
        assert req.path == "/v1/audio/transcriptions"
        audio = from_wav(wav_of(req))
        assert audio.sample_rate == RATE
        # the pre-roll, the speech and the silence that confirmed its end
        preroll = VoiceSettings().preroll
        assert 1.0 + preroll <= audio.duration <= 1.0 + preroll + 0.25
        # the reply's first two words go first (their audio comes sooner), then the rest
        assert [r.path for r in tts_server.requests] == ["/v1/audio/speech"] * 2
        assert [r.json()["input"] for r in tts_server.requests] == ["It is", "noon."]
        ((_, stopped),) = h.of(p.ReplicaStoppedSpeaking)
        assert stopped.properties.duration == 0.8

        # the ASR server fails: one asr_unavailable error, no turn, still listening
        await h.push(speech + silence(RATE))
        (error,) = h.errors()
        assert error.properties.code == "asr_unavailable"
        assert "HTTP 500" in error.properties.message and "GPU on fire" in error.properties.message
        assert len(h.user_utterances()) == 1 and h.runtime.engine.turn_idx == 1
        assert not h.runtime.ended
        await h.runtime.shutdown("end_conversation_endpoint_hit")
    finally:
        await asr.aclose()
        await tts.aclose()
        await asr_server.stop()
        await tts_server.stop()
