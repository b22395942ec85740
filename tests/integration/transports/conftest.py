"""One participant's view of a conversation over each transport, for the transport
contract suite (test_contract.py): the same test runs over

- `memory`: the app in this process, joined through the participant channel
  (`InProcessTransport`: no socket);
- `websocket`: a real `openreplica serve` process, `GET …/ws`;
- `webrtc`: the same server process, the `app-message` data channel of an aiortc peer
  (loopback ICE: run in a loopback-only network namespace, as CI does).

Every transport is configured with the same limits (`LIMITS`), so the contract can
state numbers. Scripted plugins: a 200 ms tone per word, an echoing LLM.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
from eventually import eventually
from inprocess_app import running_app
from server_process import ServerProcess

from openreplica.client import ConnectionLost
from openreplica.client.target import ConversationTarget
from openreplica.client.transport import Connection
from openreplica.client.webrtc import DATA_CHANNEL_LABEL, WebRTCConnection
from openreplica.client.websocket import WebSocketTransport

Msg = dict[str, Any]

#: the limits every transport runs with (ServerSettings field -> value)
LIMITS: dict[str, Any] = {
    "max_message_bytes": 4096,
    "rate_limit": 50.0,  # per connection
    "rate_burst": 20,
    "conversation_rate_limit": 10.0,  # all of a conversation's connections together
    "conversation_rate_burst": 30,
}
TRANSPORTS = ["memory", "websocket", "webrtc"]


@dataclass
class Peer:
    """A participant: everything it received, in order, and a cursor for `next`."""

    connection: Connection
    messages: list[Msg] = field(default_factory=list)
    lost: ConnectionLost | None = None
    _cursor: int = 0
    _reader: asyncio.Task[None] | None = None

    def start(self) -> Peer:
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        try:
            while True:
                self.messages.append(json.loads(await self.connection.recv()))
        except ConnectionLost as lost:
            self.lost = lost

    async def send(self, message: Msg | str | bytes) -> None:
        if isinstance(message, dict):
            message = json.dumps(message)
        await self.connection.send(message.encode() if isinstance(message, str) else message)

    async def next(self, predicate: Callable[[Msg], bool], timeout: float = 15.0) -> Msg:
        """The next message (after the last one `next` returned) that matches."""

        def found() -> Msg | None:
            for i in range(self._cursor, len(self.messages)):
                if predicate(self.messages[i]):
                    self._cursor = i + 1
                    return self.messages[i]
            return None

        tail = [m["event_type"] for m in self.messages[-5:]]
        message: Msg = await eventually(
            found, timeout=timeout, message=f"no matching message (last: {tail})"
        )
        return message

    async def next_type(self, event_type: str, timeout: float = 15.0) -> Msg:
        return await self.next(lambda m: m["event_type"] == event_type, timeout)

    def since(self, message: Msg) -> list[Msg]:
        """Every message received after `message`."""
        return self.messages[self.messages.index(message) + 1 :]

    def of_type(self, event_type: str) -> list[Msg]:
        return [m for m in self.messages if m["event_type"] == event_type]

    def seqs(self) -> list[int]:
        return [m["seq"] for m in self.messages if "seq" in m]

    async def close(self) -> None:
        await self.connection.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)


class Transport(Protocol):
    name: str

    async def conversation(self, *, echo: bool = False, **body: Any) -> str: ...

    async def connect(self, conversation_id: str, last_seq: int | None) -> Connection: ...


async def _create(http: httpx.AsyncClient, echo: bool, body: dict[str, Any]) -> str:
    """A conversation (on an echo-mode persona when `echo`) that outlives a participant
    leaving for a moment."""
    body.setdefault("properties", {"participant_left_timeout": 30})
    if echo:
        persona = await http.post("/v2/personas", json={"pipeline_mode": "echo"})
        assert persona.status_code == 200, persona.text
        body["persona_id"] = persona.json()["persona_id"]
    response = await http.post("/v2/conversations", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["conversation_id"])


@dataclass
class Memory:
    name = "memory"
    app: Any

    async def conversation(self, *, echo: bool = False, **body: Any) -> str:
        return await _create(self.app.http, echo, body)

    async def connect(self, conversation_id: str, last_seq: int | None) -> Connection:
        connection: Connection = await self.app.transport(conversation_id).connect(last_seq)
        return connection


@dataclass
class WebSocket:
    name = "websocket"
    server: ServerProcess
    http: httpx.AsyncClient

    async def conversation(self, *, echo: bool = False, **body: Any) -> str:
        return await _create(self.http, echo, body)

    async def connect(self, conversation_id: str, last_seq: int | None) -> Connection:
        target = ConversationTarget(self.server.url, conversation_id)
        return await WebSocketTransport(target).connect(last_seq)


@dataclass
class WebRTC(WebSocket):
    name = "webrtc"

    async def connect(self, conversation_id: str, last_seq: int | None) -> Connection:
        """An aiortc peer; `last_seq` goes with the offer (`?last_seq=`), as a browser
        reconnecting would send it."""
        from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        channel = pc.createDataChannel(DATA_CHANNEL_LABEL)
        for kind in ("audio", "video"):
            pc.addTransceiver(kind, direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        params = {} if last_seq is None else {"last_seq": last_seq}
        response = await self.http.post(
            f"/v2/conversations/{conversation_id}/webrtc/offer",
            json={"sdp": pc.localDescription.sdp, "type": "offer"},
            params=params,
        )
        assert response.status_code == 200, response.text
        connection = WebRTCConnection(pc, channel)  # listens before the channel opens
        await pc.setRemoteDescription(RTCSessionDescription(response.json()["sdp"], "answer"))
        await eventually(lambda: channel.readyState == "open", timeout=15, message="data channel")
        return connection


@pytest.fixture(scope="module")
def server_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {f"OPENREPLICA_{name.upper()}": str(value) for name, value in LIMITS.items()}
    proc = ServerProcess(tmp_path_factory.mktemp("contract") / "data", env=env)
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(params=TRANSPORTS)
async def transport(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Transport]:
    if request.param == "memory":
        async with running_app(tmp_path / "data", **LIMITS) as app:
            yield Memory(app)
        return
    server: ServerProcess = request.getfixturevalue("server_process")
    async with httpx.AsyncClient(base_url=server.url, trust_env=False) as http:
        if request.param == "websocket":
            yield WebSocket(server, http)
        else:
            from openreplica.transports.webrtc import enable_loopback_candidates

            # aioice leaves 127.0.0.1 out of this process's candidates; in the tests'
            # loopback-only namespace it is the only address there is.
            enable_loopback_candidates()
            yield WebRTC(server, http)


Join = Callable[..., Awaitable[Peer]]


@pytest.fixture
async def join(transport: Transport) -> AsyncIterator[Join]:
    """`peer = await join(conversation_id, last_seq=None)`; every peer is closed after."""
    peers: list[Peer] = []

    async def connect(conversation_id: str, last_seq: int | None = None) -> Peer:
        peer = Peer(await transport.connect(conversation_id, last_seq)).start()
        peers.append(peer)
        return peer

    yield connect
    for peer in peers:
        await peer.close()
