"""`system.replica_present` and `conversation.replica_interrupted` over a real socket
(SPEC §1.2): a server with a short heartbeat interval."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import websockets

from .conftest import ServerProcess
from .test_ws import echo, is_type, recv_until


@pytest.fixture(scope="module")
def beating(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        tmp_path_factory.mktemp("presence") / "data",
        env={"OPENREPLICA_PRESENCE_INTERVAL": "0.3"},
    )
    proc.start()
    yield proc
    proc.stop()


async def test_heartbeats_are_sequenced_broadcasts_and_never_in_the_transcript(
    beating: ServerProcess,
) -> None:
    cid = beating.conversation()
    async with websockets.connect(beating.ws_url(cid)) as ws:
        await ws.send(echo("one two three four five six seven eight"))
        beats = 0

        def third_beat(message: dict[str, object]) -> bool:
            nonlocal beats
            beats += message["event_type"] == "system.replica_present"
            return beats == 3

        seen = await recv_until(ws, third_beat)
    present = [m for m in seen if m["event_type"] == "system.replica_present"]
    assert all(
        m["properties"] == {"replica_id": seen[0]["properties"]["replica_id"]} for m in present
    )
    assert all("turn_idx" not in m and m["message_type"] == "system" for m in present)
    assert [m["seq"] for m in seen] == list(range(1, len(seen) + 1))
    # (the exact interval is tested on the virtual clock, tests/unit/runtime)
    beating.post(f"/v2/conversations/{cid}/end")
    verbose = beating.get(f"/v2/conversations/{cid}?verbose=true")
    stored = [e for e in verbose["events"] if e["event_type"] == "system.replica_present"]
    assert stored[:3] == present  # stored like every broadcast (a replay gets them)
    assert [t["role"] for t in verbose["transcript"]] == ["replica"]


async def test_an_interrupted_utterance_is_followed_by_replica_interrupted(
    beating: ServerProcess,
) -> None:
    cid = beating.conversation()
    async with websockets.connect(beating.ws_url(cid)) as ws:
        await ws.send(echo("a rather long sentence that will not be finished today"))
        started = await recv_until(ws, is_type("conversation.replica.started_speaking"))
        await ws.send('{"event_type": "conversation.interrupt"}')
        after = await recv_until(ws, is_type("conversation.replica_interrupted"))
    names = [m["event_type"] for m in after if m["event_type"] != "system.replica_present"]
    assert names[-3:] == [
        "conversation.replica.stopped_speaking",
        "conversation.stopped_speaking",
        "conversation.replica_interrupted",
    ]
    assert after[-1]["inference_id"] == started[-1]["inference_id"]
    assert "properties" not in after[-1]
