"""An event the data channel refuses (larger than the peer accepts) is answered with a
`system.error` built like every other one, naming where to read the event instead."""

from __future__ import annotations

import json

from openreplica import protocol as p
from openreplica.engine import EngineSettings
from openreplica.plugins.scripted import ScriptedLLM, ScriptedTTS
from openreplica.runtime import ConversationRuntime, RuntimePlugins, VirtualClock
from openreplica.transports.webrtc import WebRTCPeer


class RefusingDataChannel:
    """A data channel double: refuses messages over `limit` characters as aiortc does."""

    readyState = "open"
    bufferedAmount = 0

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.sent: list[str] = []

    def send(self, data: str) -> None:
        if len(data) > self.limit:
            raise ValueError(f"message is {len(data)} bytes, the peer accepts {self.limit}")
        self.sent.append(data)


async def test_an_event_too_large_for_the_data_channel_becomes_message_too_large() -> None:
    clock = VirtualClock()
    runtime = ConversationRuntime(
        "c-large",
        EngineSettings(output_sample_rate=16000),
        RuntimePlugins(tts=ScriptedTTS(), llm=ScriptedLLM.replies("Fine.")),
        clock,
    )
    peer = WebRTCPeer(runtime)
    channel = RefusingDataChannel(limit=1000)
    peer.data_channel = channel  # type: ignore[assignment]
    try:
        await peer._send(b"x" * 5000)
        await peer._send(b'{"small": true}')
    finally:
        await peer.close()

    error, small = channel.sent
    decoded = p.decode_event(error)
    assert isinstance(decoded, p.ErrorEvent) and decoded.seq is None
    assert decoded.conversation_id == "c-large"
    assert decoded.properties.code == p.ErrorCode.MESSAGE_TOO_LARGE
    assert "GET /v2/conversations/c-large?verbose=true" in decoded.properties.message
    assert "{id}" not in decoded.properties.message
    assert json.loads(small) == {"small": True}
    assert peer.stats.send_failures == 1 and peer.stats.messages_out == 1
