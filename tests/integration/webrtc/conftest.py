"""An openreplica app (scripted plugins: a 200 ms tone per word, an echoing LLM) and
loopback aiortc clients that join it over WebRTC."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from eventually import eventually
from fastapi import FastAPI

from openreplica.server.app import create_app
from openreplica.server.settings import ServerSettings
from openreplica.server.webrtc_routes import add_webrtc_routes
from openreplica.transports.webrtc import enable_loopback_candidates

MS_PER_WORD = 200  # the scripted TTS: one 200 ms tone per word


@dataclass
class Server:
    app: FastAPI
    http: httpx.AsyncClient

    async def create(self, **body: Any) -> dict[str, Any]:
        body.setdefault("properties", {"participant_left_timeout": 0})
        response = await self.http.post("/v2/conversations", json=body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def status(self, conversation_id: str) -> str:
        response = await self.http.get(f"/v2/conversations/{conversation_id}")
        return str(response.json()["status"])

    def runtime(self, conversation_id: str) -> Any:
        return self.app.state.hub._live[conversation_id].runtime


@dataclass
class Client:
    """A loopback aiortc participant: collects messages, audio and video frames."""

    pc: RTCPeerConnection
    messages: list[dict[str, Any]] = field(default_factory=list)
    #: (arrival loop time, frame) for every remote frame
    audio: list[tuple[float, Any]] = field(default_factory=list)
    video: list[tuple[float, Any]] = field(default_factory=list)
    dc: Any = None
    answer: dict[str, Any] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    keep_video: bool = False

    def send(self, message: dict[str, Any] | str) -> None:
        self.dc.send(message if isinstance(message, str) else json.dumps(message))

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        return [m for m in self.messages if event_type is None or m["event_type"] == event_type]

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0
    ) -> dict[str, Any]:
        seen = 0

        def found() -> dict[str, Any] | None:
            nonlocal seen
            for message in self.messages[seen:]:
                if predicate(message):
                    return message
            seen = len(self.messages)
            return None

        message: dict[str, Any] = await eventually(
            found, timeout=timeout, message=f"a matching message ({self.messages[-5:]})"
        )
        return message

    async def wait_event(self, event_type: str, timeout: float = 10.0) -> dict[str, Any]:
        return await self.wait_for(lambda m: m["event_type"] == event_type, timeout)

    def loud_audio_seconds(self, threshold: int = 2000) -> float:
        """Seconds of received audio whose peak is above `threshold` (speech, not
        silence); frames are 48 kHz."""
        total = 0
        for _, frame in self.audio:
            if int(np.abs(frame.to_ndarray()).max()) > threshold:
                total += frame.samples
        return total / 48000

    async def close(self) -> None:
        await self.pc.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def _consume(client: Client, track: MediaStreamTrack) -> None:
    loop = asyncio.get_running_loop()
    sink = client.audio if track.kind == "audio" else client.video
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        if track.kind == "video" and not client.keep_video:
            sink.append((loop.time(), None))
        else:
            sink.append((loop.time(), frame))


Join = Callable[..., Awaitable[Client]]


@pytest.fixture
async def server(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Server]:
    """Parametrize indirectly with a dict to change `ServerSettings` fields."""
    overrides = getattr(request, "param", {})
    settings = ServerSettings(data_dir=tmp_path, testing_scripted_plugins=True, **overrides)
    app = create_app(settings)
    add_webrtc_routes(app)  # no-op once create_app wires it
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
    ):
        yield Server(app, http)


@pytest.fixture
async def join(server: Server) -> AsyncIterator[Join]:
    """`client = await join(conversation_id, token=None, last_seq=None, tracks=[...])`."""
    enable_loopback_candidates()
    clients: list[Client] = []

    async def connect(
        conversation_id: str,
        *,
        token: str | None = None,
        last_seq: int | None = None,
        tracks: tuple[MediaStreamTrack, ...] = (),
        keep_video: bool = False,
        expect_status: int = 200,
    ) -> Client:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        client = Client(pc, keep_video=keep_video)
        clients.append(client)
        client.dc = pc.createDataChannel("app-message")
        client.dc.on("message", lambda m: client.messages.append(json.loads(m)))
        kinds = {t.kind for t in tracks}
        for track in tracks:
            pc.addTrack(track)
        for kind in ("audio", "video"):
            if kind not in kinds:
                pc.addTransceiver(kind, direction="recvonly")
        pc.on(
            "track", lambda track: client.tasks.append(asyncio.create_task(_consume(client, track)))
        )
        await pc.setLocalDescription(await pc.createOffer())
        params: dict[str, Any] = {}
        if token is not None:
            params["t"] = token
        if last_seq is not None:
            params["last_seq"] = last_seq
        response = await server.http.post(
            f"/v2/conversations/{conversation_id}/webrtc/offer",
            json={"sdp": pc.localDescription.sdp, "type": "offer"},
            params=params,
        )
        assert response.status_code == expect_status, response.text
        client.answer = response.json()
        if expect_status != 200:
            return client
        await pc.setRemoteDescription(RTCSessionDescription(client.answer["sdp"], "answer"))
        await eventually(lambda: client.dc.readyState == "open", message="data channel open")
        return client

    yield connect
    for client in clients:
        await client.close()
