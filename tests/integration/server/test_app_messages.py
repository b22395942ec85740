"""Server-side interactions against a real server process (SPEC §5 [added]):
`POST /v2/conversations/{id}/send-app-message` and `POST /v2/interactions`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets

from .conftest import ServerProcess
from .test_ws import recv_until

KEY = "app-message-key"
NOT_ACTIVE = {"error": "App messages can only be sent to active conversations."}


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        tmp_path_factory.mktemp("app-messages") / "data", env={"OPENREPLICA_API_KEY": KEY}
    )
    proc.start()
    yield proc
    proc.stop()


def interaction(event_type: str, **properties: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"message_type": "conversation", "event_type": event_type}
    if properties:
        message["properties"] = properties
    return message


def send(server: ServerProcess, cid: str, body: Any, **kw: Any) -> httpx.Response:
    headers = {"x-api-key": KEY, **kw.pop("headers", {})}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(
        f"{server.url}/v2/conversations/{cid}/send-app-message",
        content=content,
        headers={"content-type": "application/json", **headers},
        **kw,
    )


def create(server: ServerProcess, **body: Any) -> str:
    cid: str = server.post("/v2/conversations", body, headers={"x-api-key": KEY})["conversation_id"]
    return cid


def of_type(name: str) -> Any:
    return lambda m: m["event_type"] == name


async def test_each_interaction_is_delivered_as_from_a_participant(keyed: ServerProcess) -> None:
    cid = create(keyed)
    async with websockets.connect(keyed.ws_url(cid, t=KEY)) as ws:
        await recv_until(ws, of_type("system.replica_joined"))

        assert send(keyed, cid, interaction("conversation.echo", text="From the server.")).json()
        spoken = await recv_until(ws, of_type("conversation.stopped_speaking"))
        utterance = next(m for m in spoken if m["event_type"] == "conversation.utterance")
        assert utterance["properties"] == {"role": "replica", "speech": "From the server."}

        response = send(keyed, cid, interaction("conversation.respond", text="hello there"))
        assert response.status_code == 200, response.text
        turn = await recv_until(ws, of_type("conversation.utterance"))
        assert turn[-1]["properties"]["role"] == "user"
        assert turn[-1]["properties"]["speech"] == "hello there"
        started = await recv_until(ws, of_type("conversation.replica.started_speaking"))
        assert send(keyed, cid, interaction("conversation.interrupt")).status_code == 200
        cut = await recv_until(ws, of_type("conversation.replica.stopped_speaking"))
        assert cut[-1]["properties"]["interrupted"] is True
        assert cut[-1]["inference_id"] == started[-1]["inference_id"]

        for quiet in (
            interaction("conversation.overwrite_llm_context", context="Shop hours 9-5."),
            interaction("conversation.append_llm_context", context="Closed Sundays."),
            interaction("conversation.sensitivity", participant_pause_sensitivity="high"),
        ):
            response = send(keyed, cid, quiet)
            assert response.status_code == 200, (quiet["event_type"], response.text)

        # the older form names the conversation in the body
        older = {**interaction("conversation.echo", text="Older form."), "conversation_id": cid}
        response = httpx.post(
            f"{keyed.url}/v2/interactions", json=older, headers={"x-api-key": KEY}
        )
        assert response.status_code == 200, response.text
        spoken = await recv_until(ws, of_type("conversation.utterance"))
        assert spoken[-1]["properties"]["speech"] == "Older form."


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{nope", "invalid_json"),
        (b"[1]", "invalid_json"),
        (interaction("conversation.fly"), "unknown_event_type"),
        (interaction("conversation.echo", text=5), "invalid_properties"),
        (interaction("conversation.respond", text=""), "invalid_properties"),
        (
            {**interaction("conversation.interrupt"), "conversation_id": "other"},
            "wrong_conversation",
        ),
        (
            {
                "message_type": "system",
                "event_type": "system.resume",
                "properties": {"last_seq": 0},
            },
            "unknown_event_type",
        ),
    ],
)
def test_a_would_be_system_error_is_a_400_with_its_code(
    keyed: ServerProcess, body: Any, code: str
) -> None:
    cid = create(keyed)
    response = send(keyed, cid, body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == code and response.json()["error"]


def test_a_refusal_by_the_engine_is_a_400_too(keyed: ServerProcess) -> None:
    persona = keyed.post("/v2/personas", {"pipeline_mode": "echo"}, headers={"x-api-key": KEY})
    cid = create(keyed, persona_id=persona["persona_id"])
    response = send(keyed, cid, interaction("conversation.respond", text="hi"))
    assert response.status_code == 400
    assert response.json()["code"] == "not_allowed_in_mode"
    full = create(keyed)
    result = interaction("conversation.tool_result", tool_call_id="t1", name="f", output="{}")
    response = send(keyed, full, result)
    assert response.status_code == 400 and response.json() == {
        "error": "no tool call 't1' is waiting for a result",
        "code": "invalid_properties",
    }


def test_auth_size_and_conversation_state(keyed: ServerProcess) -> None:
    cid = create(keyed)
    big = json.dumps(interaction("conversation.echo", text="x" * 70_000)).encode()
    # the key is checked before the body is looked at
    wrong = send(keyed, cid, big, headers={"x-api-key": "wrong"})
    assert wrong.status_code == 401 and wrong.json() == {"message": "Invalid access token"}
    too_big = send(keyed, cid, big)
    assert too_big.status_code == 413 and "65536" in too_big.json()["error"]
    assert send(keyed, "c-nope", interaction("conversation.interrupt")).status_code == 404
    keyed.post(f"/v2/conversations/{cid}/end", headers={"x-api-key": KEY})
    ended = send(keyed, cid, interaction("conversation.interrupt"))
    assert ended.status_code == 400 and ended.json() == NOT_ACTIVE
    no_id = httpx.post(
        f"{keyed.url}/v2/interactions",
        json=interaction("conversation.interrupt"),
        headers={"x-api-key": KEY},
    )
    assert no_id.status_code == 400 and "conversation_id" in no_id.json()["error"]


async def test_before_anyone_joins_the_replica_joins_and_the_message_is_delivered(
    keyed: ServerProcess,
) -> None:
    cid = create(keyed)
    response = send(keyed, cid, interaction("conversation.echo", text="Waiting for you."))
    assert response.status_code == 200, response.text
    async with websockets.connect(keyed.ws_url(cid, t=KEY, last_seq=0)) as ws:
        seen = await recv_until(ws, of_type("conversation.utterance"))
    assert seen[0]["event_type"] == "system.replica_joined" and seen[0]["seq"] == 1
    assert seen[-1]["properties"]["speech"] == "Waiting for you."


def test_app_messages_count_against_the_conversations_rate_limit(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    env = {
        "OPENREPLICA_API_KEY": KEY,
        "OPENREPLICA_CONVERSATION_RATE_LIMIT": "0.1",
        "OPENREPLICA_CONVERSATION_RATE_BURST": "3",
    }
    server = ServerProcess(tmp_path_factory.mktemp("app-message-rate") / "data", env=env)
    server.start()
    try:
        cid = create(server)
        answers = [send(server, cid, interaction("conversation.interrupt")) for _ in range(5)]
        assert [a.status_code for a in answers[:3]] == [200, 200, 200]
        limited = answers[3]
        assert limited.status_code == 400 and limited.json()["code"] == "rate_limited"
        assert "per second" in limited.json()["error"]
    finally:
        server.stop()
