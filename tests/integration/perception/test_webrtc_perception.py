"""Perception end to end: camera frames from an aiortc client over WebRTC reach the
perception layer of a conversation whose persona turns it on; the tool call, the visual
context, the analysis (event and webhook) come back."""

from __future__ import annotations

import asyncio
import base64
import fractions
import json
from collections.abc import Awaitable, Callable
from typing import Any

import av
import cv2
import numpy as np
from aiortc.mediastreams import MediaStreamTrack
from eventually import eventually
from skimage import data
from stub_http import Handler, Reply, Request, StubServer

from ..webrtc.conftest import Join, Server, join, server  # noqa: F401  (fixtures)

StartServer = Callable[[Handler], Awaitable[StubServer]]

PERSONA = {
    "persona_name": "Watcher",
    "system_prompt": "You can see the user.",
    "layers": {
        "perception": {
            "perception_model": "raven-0",  # the hosted name: the offline engine stands in
            "visual_tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "user_left",
                        "description": "Call when the user leaves the camera view.",
                        "parameters": {
                            "type": "object",
                            "properties": {"people": {"type": "integer"}},
                        },
                    },
                }
            ],
            "perception_analysis_queries": ["Was the user visible?"],
            "sample_interval": 0.25,
        }
    },
}


class Camera(MediaStreamTrack):
    """A camera showing `image` (switchable) at 10 fps."""

    kind = "video"

    def __init__(self, image: np.ndarray) -> None:
        super().__init__()
        self.image = image
        self._pts = 0

    async def recv(self) -> av.VideoFrame:
        await asyncio.sleep(0.1)
        frame = av.VideoFrame.from_ndarray(self.image, format="rgb24")
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, 10)
        self._pts += 1
        return frame


def _square(image: np.ndarray, side: int = 320) -> np.ndarray:
    return np.ascontiguousarray(cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA))


async def test_camera_over_webrtc_reaches_perception_and_the_analysis_comes_back(
    server: Server,  # noqa: F811
    join: Join,  # noqa: F811
    stub_server: StartServer,
) -> None:
    hooks: list[dict[str, Any]] = []

    async def receive(request: Request) -> Reply:
        hooks.append(request.json())
        return Reply(status=204)

    receiver = await stub_server(receive)
    persona = (await server.http.post("/v2/personas", json=PERSONA)).json()
    conversation = await server.create(
        persona_id=persona["persona_id"],
        callback_url=receiver.url + "/hook",
        properties={"participant_left_timeout": 0},
    )
    cid = conversation["conversation_id"]
    camera = Camera(_square(data.astronaut()))
    client = await join(cid, tracks=(camera,))
    await client.wait_event("system.replica_joined")
    layer = server.runtime(cid).perception
    assert layer is not None, "the persona's perception layer is on"
    await eventually(
        lambda: layer.visual_context.startswith("One person is in view"),
        timeout=10,
        message="perception saw the person",
    )

    client.send(
        {
            "message_type": "conversation",
            "event_type": "conversation.respond",
            "conversation_id": cid,
            "properties": {"text": "Can you see me?"},
        }
    )
    user = await client.wait_for(
        lambda m: m["event_type"] == "conversation.utterance" and m["properties"]["role"] == "user"
    )
    assert user["properties"]["visual_context"].startswith("One person is in view")
    assert user["properties"]["user_visual_analysis"] == user["properties"]["visual_context"]
    assert "user_audio_analysis" not in user["properties"]  # typed, not spoken

    camera.image = _square(data.coffee())  # the user walks away
    call = await client.wait_event("conversation.perception_tool_call")
    props = call["properties"]
    assert (props["modality"], props["name"], props["arguments"]) == (
        "vision",
        "user_left",
        {"people": 0},
    )
    assert call["turn_idx"] == 1 and call["inference_id"]
    for frame in props["frames"]:
        assert frame["mime_type"] == "image/jpeg"
        raw = np.frombuffer(base64.b64decode(frame["data"]), np.uint8)
        image = cv2.imdecode(raw, cv2.IMREAD_COLOR)
        assert image is not None and image.shape == (320, 320, 3)
    assert len(json.dumps(call)) < 200 * 1024

    ended = await server.http.post(f"/v2/conversations/{cid}/end")
    assert ended.status_code == 200
    await client.wait_event("system.shutdown")
    names = [m["event_type"] for m in client.events()]
    assert names.count("conversation.perception_analysis") == 1
    assert names[-1] == "system.shutdown"  # speech still going is cut after the analysis
    assert names.index("conversation.perception_analysis") > names.index(
        "conversation.perception_tool_call"
    )
    analysis = client.events("conversation.perception_analysis")[0]["properties"]["analysis"]
    assert "someone was in view" in analysis and "Q: Was the user visible?" in analysis

    # Wait for both webhooks (each is its own request: they may land a moment apart).
    await eventually(
        lambda: (
            {"application.perception_analysis", "system.shutdown"}
            <= {h["event_type"] for h in hooks}
        ),
        timeout=10,
        message="the perception_analysis and system.shutdown webhooks",
    )
    hook = [h for h in hooks if h["event_type"] == "application.perception_analysis"]
    assert hook[0]["properties"] == {"analysis": analysis}
    assert hook[0]["conversation_id"] == cid and hook[0]["message_type"] == "application"
    kinds = [h["event_type"] for h in hooks]
    assert kinds.index("application.perception_analysis") < kinds.index("system.shutdown")
