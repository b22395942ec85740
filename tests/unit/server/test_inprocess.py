"""`InProcessTransport`: the client SDK joins an app in this process through its hub,
with the WebSocket endpoint's behaviour (refusals, replay, the close after shutdown)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eventually import eventually
from inprocess_app import InProcessClient, running_app

from openreplica.client import ConnectionLost


def _message(raw: bytes | str) -> dict[str, object]:
    message: dict[str, object] = json.loads(raw)
    return message


async def test_refusals_carry_the_websocket_close_codes(tmp_path: Path) -> None:
    async with running_app(tmp_path) as app:
        with pytest.raises(ConnectionLost) as unknown:
            await app.transport("c-nope").connect(None)
        assert unknown.value.code == 4404
        locked = await app.http.post("/v2/conversations", json={"require_auth": True})
        cid, token = locked.json()["conversation_id"], locked.json()["meeting_token"]
        for credential in (None, "wrong"):
            with pytest.raises(ConnectionLost) as refused:
                await app.transport(cid, credential).connect(None)
            assert refused.value.code == 4401
        connection = await app.transport(cid, token).connect(0)
        assert _message(await connection.recv())["seq"] == 1
        await connection.close()
        assert (await app.http.post(f"/v2/conversations/{cid}/end")).status_code == 200
        with pytest.raises(ConnectionLost) as ended:
            await app.transport(cid, token).connect(None)
        assert ended.value.code == 4410


async def test_events_in_order_then_shutdown_then_the_4410_close(tmp_path: Path) -> None:
    async with running_app(tmp_path) as app:
        cid = await app.conversation()
        connection = await app.transport(cid).connect(0)
        await connection.send(
            b'{"event_type": "conversation.echo", "properties": {"text": "Hi there."}}'
        )
        seen: list[dict[str, object]] = []
        while not seen or seen[-1]["event_type"] != "conversation.replica.stopped_speaking":
            seen.append(_message(await connection.recv()))
        assert [m["seq"] for m in seen] == list(range(1, len(seen) + 1))
        assert (await app.http.post(f"/v2/conversations/{cid}/end")).status_code == 200
        while seen[-1]["event_type"] != "system.shutdown":  # type: ignore[comparison-overlap]
            seen.append(_message(await connection.recv()))
        with pytest.raises(ConnectionLost) as closed:
            await connection.recv()
        assert closed.value.code == 4410
        with pytest.raises(ConnectionLost):
            await connection.send(b"{}")
        await connection.close()  # idempotent


async def test_the_client_sdk_over_it(tmp_path: Path) -> None:
    async with (
        running_app(tmp_path, api_key="k" * 32) as app,
        InProcessClient(app.app, "k" * 32) as client,
    ):
        persona = await client.create_persona(persona_name="echo", pipeline_mode="echo")
        info = await client.create_conversation(
            persona_id=persona["persona_id"], properties={"participant_left_timeout": 0}
        )
        async with await client.connect(info, last_seq=0) as conv:
            said = await conv.say("Hello in process.")
            assert said.done and said.heard == "Hello in process."
            seqs = [e.seq for e in conv.view.events]
            assert seqs == list(range(1, len(seqs) + 1))

        # Closing is the participant leaving: with no one left, the conversation ends.
        async def status() -> object:
            return (await client.get_conversation(info["conversation_id"]))["status"] == "ended"

        await eventually(status, message="the conversation ended once everyone left")
