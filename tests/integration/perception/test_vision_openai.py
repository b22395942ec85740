"""The vision-model engine against an OpenAI-compatible server started by the test."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any

import cv2
import numpy as np
import pytest
from skimage import data
from stub_http import Handler, Reply, Request, StubServer

from openreplica import protocol as p
from openreplica.engine import EngineSettings
from openreplica.plugins.perception import (
    PerceptionUnavailable,
    SpeechFeatures,
    perception_config,
)
from openreplica.plugins.perception.vision_openai import OpenAIVisionPerception
from openreplica.plugins.scripted import ScriptedLLM, ScriptedTTS
from openreplica.runtime import ConversationRuntime, RuntimePlugins, VirtualClock

StartServer = Callable[[Handler], Awaitable[StubServer]]

SEEN = "A person in a spacesuit is looking at the camera."
WAVE = {
    "type": "function",
    "function": {
        "name": "user_waves",
        "description": "The user waves at the camera.",
        "parameters": {"type": "object", "properties": {"hand": {"type": "string"}}},
    },
}
LAUGH = {"name": "user_laughs", "description": "The user laughs."}


def completion(message: dict[str, Any]) -> Reply:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "test-vision",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
    }
    return Reply(headers={"content-type": "application/json"}, body=json.dumps(body).encode())


def tool_call(name: str, arguments: str) -> Reply:
    call = {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}
    return completion({"role": "assistant", "content": None, "tool_calls": [call]})


def images_in(request: Request) -> list[np.ndarray]:
    """Every image the request carried, decoded (asserting they are JPEG data URLs)."""
    out = []
    for message in request.json()["messages"]:
        content = message["content"]
        for part in content if isinstance(content, list) else []:
            if part["type"] == "image_url":
                url = part["image_url"]["url"]
                assert url.startswith("data:image/jpeg;base64,")
                raw = np.frombuffer(base64.b64decode(url.split(",", 1)[1]), np.uint8)
                image = cv2.imdecode(raw, cv2.IMREAD_COLOR)
                assert image is not None
                out.append(image)
    return out


async def vision_server(start: StartServer) -> StubServer:
    async def handle(request: Request) -> Reply:
        body = request.json()
        assert request.path == "/v1/chat/completions"
        assert body["model"] == "test-vision"
        tools = body.get("tools")
        if tools and tools[0]["function"]["name"] == "user_waves":
            assert images_in(request), "a visual tool decision needs the frames"
            return tool_call("user_waves", '{"hand": "right"}')
        if tools:
            assert not images_in(request)  # audio tools: text only
            return tool_call("user_laughs", '{"intensity": 2}')
        return completion({"role": "assistant", "content": f"  {SEEN}\n"})

    return await start(handle)


def engine_for(server: StubServer, **layer: Any) -> OpenAIVisionPerception:
    config, warnings = perception_config(
        {
            "perception_model": "openai",
            "base_url": server.url + "/v1",
            "model": "test-vision",
            "api_key": "secret",
            "visual_awareness_queries": ["Is the user looking at the camera?"],
            "visual_tool_prompt": "Watch for waves.",
            "visual_tools": [WAVE],
            "audio_tool_prompt": "Listen for laughter.",
            "audio_tools": [LAUGH],
            "perception_analysis_queries": ["Was the user engaged?"],
            **layer,
        }
    )
    assert warnings == []
    engine = OpenAIVisionPerception(config)
    assert isinstance(engine, OpenAIVisionPerception)
    return engine


async def test_a_look_sends_the_frames_and_returns_context_and_a_tool_call(
    stub_server: StartServer,
) -> None:
    server = await vision_server(stub_server)
    engine = engine_for(server)
    frames = [data.coffee(), data.astronaut()]
    seen = await asyncio.to_thread(engine.observe, frames, 100.0)
    assert seen.visual_context == SEEN
    assert [(c.name, c.arguments) for c in seen.tool_calls] == [("user_waves", {"hand": "right"})]
    awareness, tools = (r.json() for r in server.requests)
    assert server.requests[0].headers["authorization"] == "Bearer secret"
    assert "Is the user looking at the camera?" in json.dumps(awareness["messages"])
    assert [img.shape for img in images_in(server.requests[0])] == [(341, 512, 3), (512, 512, 3)]
    assert tools["messages"][0] == {"role": "system", "content": "Watch for waves."}
    assert tools["tools"] == [WAVE]
    # the analysis: what was seen look by look, the queries, and key frames
    analysis = await asyncio.to_thread(engine.analysis)
    assert analysis == SEEN
    request = server.requests[-1]
    text = json.dumps(request.json()["messages"])
    assert SEEN in text and "Was the user engaged?" in text
    assert len(images_in(request)) == 1
    engine.close()


async def test_audio_tools_are_a_text_only_request(stub_server: StartServer) -> None:
    server = await vision_server(stub_server)
    engine = engine_for(server)
    calls = await asyncio.to_thread(
        engine.audio_tools, "ha ha ha that is funny", SpeechFeatures(2.0, 1)
    )
    assert [(c.name, c.arguments) for c in calls] == [("user_laughs", '{"intensity": 2}')]
    body = server.requests[0].json()
    assert body["messages"][0]["content"] == "Listen for laughter."
    assert "ha ha ha that is funny" in body["messages"][1]["content"]
    assert "words per second" in body["messages"][1]["content"]
    engine.close()


async def test_server_errors_and_silence_become_perception_unavailable(
    stub_server: StartServer,
) -> None:
    async def fail(request: Request) -> Reply:
        return Reply(status=500, body=b'{"error": {"message": "model not loaded"}}')

    engine = engine_for(await stub_server(fail))
    with pytest.raises(PerceptionUnavailable, match="HTTP 500"):
        await asyncio.to_thread(engine.observe, [data.astronaut()], 0.0)
    engine.close()

    async def hang(request: Request) -> Reply:
        await asyncio.sleep(30)
        return Reply()

    engine = engine_for(await stub_server(hang), timeout=0.3)
    with pytest.raises(PerceptionUnavailable, match=r"no response within 0\.3 s"):
        await asyncio.to_thread(engine.observe, [data.astronaut()], 0.0)
    engine.close()


async def test_through_the_runtime_the_model_sees_and_calls_a_tool(
    stub_server: StartServer,
) -> None:
    server = await vision_server(stub_server)
    clock = VirtualClock()
    llm = ScriptedLLM.replies("Yes, I see you.")
    runtime = ConversationRuntime(
        "c1",
        EngineSettings(output_sample_rate=16000),
        RuntimePlugins(tts=ScriptedTTS(), llm=llm, perception=engine_for(server)),
        clock,
    )
    events: list[p.Event] = []
    runtime.subscribe(lambda event, _: events.append(event))
    runtime.camera.push(data.astronaut(), clock.now())
    await runtime.start()
    assert runtime.perception is not None
    await clock.advance(0)  # the first look starts
    await runtime.perception.idle()
    runtime.submit(p.Respond(properties=p.RespondProps(text="Can you see me?")))
    await clock.advance(2.0)
    await runtime.perception.idle()  # the audio-tool decision on the user's turn
    await runtime.shutdown("end_conversation_endpoint_hit")
    calls = [
        (x.properties.modality, x.properties.name, x.properties.arguments, x.turn_idx)
        for x in events
        if isinstance(x, p.PerceptionToolCall)
    ]
    assert calls == [
        ("vision", "user_waves", {"hand": "right"}, 0),
        ("audio", "user_laughs", '{"intensity": 2}', 1),
    ]
    call = next(x for x in events if isinstance(x, p.PerceptionToolCall))
    assert call.properties.frames and len(call.properties.frames) == 1
    user = next(x for x in events if isinstance(x, p.Utterance) and x.properties.role == "user")
    assert user.properties.visual_context == SEEN
    assert SEEN in llm.calls[0].messages[-1].content
    names = [p.event_type_of(type(x)) for x in events]
    assert names[-2:] == ["conversation.perception_analysis", "system.shutdown"]
