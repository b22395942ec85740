"""A conversation driven in-process end to end: the real Piper voice speaks what a real
OpenAI-compatible HTTP server streams, on the system clock."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from eventually import eventually
from stub_http import Reply, Request, StubServer, text_reply, tool_call_reply

from openreplica import protocol as p
from openreplica.engine import EngineSettings
from openreplica.plugins.base import LLMOptions
from openreplica.plugins.llm_openai import OpenAICompatibleLLM
from openreplica.plugins.tts_piper import PiperTTS
from openreplica.runtime import ConversationRuntime, RuntimePlugins, SystemClock

StartServer = Callable[[Callable[[Request], Awaitable[Reply]]], Awaitable[StubServer]]
OUTPUT_RATE = 24000


@pytest.fixture(scope="module")
def piper() -> PiperTTS:
    return PiperTTS.default()


@dataclass
class Recorder:
    """Collects events and the audio handed to the sink."""

    events: list[p.Event] = field(default_factory=list)
    samples: int = 0
    rates: set[int] = field(default_factory=set)

    def write(self, pcm: bytes, sample_rate: int) -> None:
        self.samples += len(pcm) // 2
        self.rates.add(sample_rate)

    def of(self, kind: type) -> list:  # type: ignore[type-arg]
        return [e for e in self.events if isinstance(e, kind)]

    async def wait_for(self, kind: type, count: int = 1, timeout: float = 30.0) -> None:
        await eventually(
            lambda: len(self.of(kind)) >= count,
            timeout=timeout,
            message=f"{count} {kind.__name__} event(s)",
        )


async def _conversation(
    piper: PiperTTS, llm_url: str, timeout: float = 10.0, **settings: object
) -> tuple[ConversationRuntime, Recorder]:
    llm = OpenAICompatibleLLM(LLMOptions(base_url=llm_url, model="test", timeout=timeout))
    runtime = ConversationRuntime(
        "c-real",
        EngineSettings(output_sample_rate=OUTPUT_RATE, **settings),  # type: ignore[arg-type]
        RuntimePlugins(tts=piper, llm=llm),
        SystemClock(),
    )
    recorder = Recorder()
    runtime.subscribe(lambda event, _: recorder.events.append(event))
    runtime.add_speech_listener(recorder)
    await runtime.start()
    return runtime, recorder


def _respond(text: str) -> p.Respond:
    return p.Respond(properties=p.RespondProps(text=text))


async def test_piper_speaks_the_streamed_reply_and_events_match_the_audio(
    stub_server: StartServer, piper: PiperTTS
) -> None:
    async def handler(request: Request) -> Reply:
        return text_reply("Hello there. It is nice to meet you.")

    server = await stub_server(handler)
    runtime, rec = await _conversation(piper, server.url + "/v1")
    runtime.submit(_respond("Hi!"))
    await rec.wait_for(p.ReplicaStoppedSpeaking)
    await runtime.shutdown("end_conversation_endpoint_hit")

    sent = server.requests[0].json()
    assert sent["stream"] is True and sent["messages"][-1] == {"role": "user", "content": "Hi!"}
    stopped = rec.of(p.ReplicaStoppedSpeaking)[0]
    assert stopped.properties.interrupted is False
    # real speech: a plausible length, resampled from Piper's 22050 Hz to the output rate
    assert piper.sample_rate == 22050 and rec.rates == {OUTPUT_RATE}
    assert 1.0 < stopped.properties.duration < 6.0
    assert rec.samples / OUTPUT_RATE == pytest.approx(stopped.properties.duration, abs=0.021)
    final = [e for e in rec.of(p.UtteranceStreaming) if e.properties.final]
    assert [f.properties.speech for f in final] == ["Hello there. It is nice to meet you."]
    utterance = [u for u in rec.of(p.Utterance) if u.properties.role == "replica"]
    assert utterance[0].inference_id == stopped.inference_id
    seqs = [e.seq for e in rec.events if e.seq is not None]
    assert seqs == list(range(1, len(seqs) + 1))


async def test_tool_call_then_result_then_spoken_answer(
    stub_server: StartServer, piper: PiperTTS
) -> None:
    replies = [
        tool_call_reply("call_7", "get_weather", '{"city": "Oslo"}'),
        text_reply("It is snowing in Oslo."),
    ]

    async def handler(request: Request) -> Reply:
        return replies.pop(0)

    server = await stub_server(handler)
    tools = ({"type": "function", "function": {"name": "get_weather", "parameters": {}}},)
    runtime, rec = await _conversation(piper, server.url, tools=tools)
    runtime.submit(_respond("Weather in Oslo?"))
    await rec.wait_for(p.ToolCall)
    call = rec.of(p.ToolCall)[0]
    assert (call.properties.name, call.properties.tool_call_id) == ("get_weather", "call_7")
    assert json.loads(call.properties.arguments) == {"city": "Oslo"}
    runtime.submit(
        p.ToolResult(
            properties=p.ToolResultProps(
                tool_call_id="call_7", name="get_weather", output={"sky": "snow"}
            )
        )
    )
    await rec.wait_for(p.ReplicaStoppedSpeaking)
    await runtime.shutdown("end_conversation_endpoint_hit")
    second = server.requests[1].json()
    assert second["tools"][0]["function"]["name"] == "get_weather"
    assert second["messages"][-2]["tool_calls"][0]["id"] == "call_7"
    assert second["messages"][-1] == {
        "role": "tool",
        "content": '{"sky":"snow"}',
        "tool_call_id": "call_7",
    }
    spoken = [u for u in rec.of(p.Utterance) if u.properties.role == "replica"]
    assert spoken[-1].properties.speech == "It is snowing in Oslo."
    assert spoken[-1].turn_idx == call.turn_idx == 1


@pytest.mark.parametrize("failure", ["http_500", "hangs"])
async def test_a_failing_llm_gives_llm_unavailable_and_the_conversation_goes_on(
    stub_server: StartServer, piper: PiperTTS, failure: str
) -> None:
    calls = 0

    async def handler(request: Request) -> Reply:
        nonlocal calls
        calls += 1
        if calls == 1 and failure == "http_500":
            return Reply(status=500, body=b'{"error": {"message": "model overloaded"}}')
        if calls == 1:
            await asyncio.sleep(30)  # accepts, then never answers
        return text_reply("Back.")

    server = await stub_server(handler)
    runtime, rec = await _conversation(piper, server.url, timeout=0.5)
    runtime.submit(_respond("Hello?"))
    await rec.wait_for(p.ErrorEvent)
    error = rec.of(p.ErrorEvent)[0]
    assert error.properties.code == "llm_unavailable" and error.seq is None
    assert ("500" in error.properties.message) == (failure == "http_500")
    runtime.submit(_respond("Hello again?"))
    await rec.wait_for(p.ReplicaStoppedSpeaking)
    await runtime.shutdown("end_conversation_endpoint_hit")
    assert rec.of(p.ReplicaStoppedSpeaking)[0].properties.interrupted is False
