"""Every REST endpoint and every error body (SPEC §5), in-process."""

from __future__ import annotations

import pytest

from openreplica.runtime import settle
from openreplica.transports import connect_memory_peer

from .conftest import Api, MakeApi

PERSONA = {
    "persona_name": "Bike shop",
    "system_prompt": "You sell bikes.",
    "pipeline_mode": "echo",
    "context": "Open 9-5.",
    "layers": {
        "llm": {"model": "m", "base_url": "http://127.0.0.1:9/v1", "api_key": "secret"},
        "tts": {"tts_engine": "espeak", "external_voice_id": "x"},
        "conversational_flow": {"turn_taking_patience": "high"},
        "future_layer": {"kept": True},
    },
    "document_ids": ["d1"],
}


# ----------------------------------------------------------------------- personas


async def test_persona_create_get_list_patch_delete(api: Api) -> None:
    created = await api.create("/v2/personas", PERSONA)
    pid = created["persona_id"]
    assert created["persona_name"] == "Bike shop" and created["created_at"].endswith("Z")
    assert created["layers"]["llm"]["api_key"] == "********"  # secrets are write-only
    assert created["layers"]["future_layer"] == {"kept": True}
    assert created["document_ids"] == ["d1"]

    got = (await api.client.get(f"/v2/personas/{pid}")).json()
    assert got == created

    await api.clock.advance(1.0)
    await api.create("/v2/personas", {"persona_name": "Second"})
    listed = (await api.client.get("/v2/personas", params={"limit": 1, "page": 2})).json()
    assert listed["total_count"] == 2 and [p["persona_id"] for p in listed["data"]] == [pid]

    patch = [
        {"op": "replace", "path": "/persona_name", "value": "Renamed"},
        {
            "op": "add",
            "path": "/layers/conversational_flow/replica_interruptibility",
            "value": "low",
        },
        {"op": "remove", "path": "/context"},
    ]
    patched = (await api.client.patch(f"/v2/personas/{pid}", json=patch)).json()
    assert patched["persona_name"] == "Renamed" and "context" not in patched
    assert patched["layers"]["conversational_flow"]["replica_interruptibility"] == "low"
    assert patched["layers"]["llm"]["api_key"] == "********"  # still stored, still hidden

    response = await api.client.delete(f"/v2/personas/{pid}")
    assert response.status_code == 204 and response.content == b""
    response = await api.client.get(f"/v2/personas/{pid}")
    assert response.status_code == 404 and response.json() == {
        "error": f"persona {pid!r} not found"
    }
    assert (await api.client.delete(f"/v2/personas/{pid}")).status_code == 404


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"persona_name": 5}, "invalid `persona_name`: Input should be a valid string"),
        ({"pipeline_mode": "fast"}, "invalid `pipeline_mode`: Input should be 'full' or 'echo'"),
        ({"layers": {"llm": {"model": 3}}}, "invalid `layers.llm.model`"),
        ({"layers": {"llm": {"tools": "no"}}}, "invalid `layers.llm.tools`"),
        (
            {"layers": {"stt": {"participant_pause_sensitivity": "loud"}}},
            "invalid `layers.stt.participant_pause_sensitivity`",
        ),
        (
            {"layers": {"conversational_flow": {"turn_taking_patience": "x"}}},
            "invalid `layers.conversational_flow.turn_taking_patience`",
        ),
        ([1, 2], "request body must be a JSON object"),
    ],
)
async def test_a_bad_persona_is_a_400_naming_the_field(api: Api, body: object, error: str) -> None:
    response = await api.client.post("/v2/personas", json=body)
    assert response.status_code == 400
    assert list(response.json()) == ["error"] and response.json()["error"].startswith(error)


async def test_a_body_that_is_not_json_is_a_400(api: Api) -> None:
    response = await api.client.post(
        "/v2/personas", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {"error": "request body is not valid JSON"}


@pytest.mark.parametrize(
    ("patch", "error"),
    [
        ([{"op": "test", "path": "/persona_name", "value": "other"}], "JSON Patch failed"),
        ([{"op": "remove", "path": "/nothing/here"}], "JSON Patch failed"),
        ([{"op": "replace", "path": "/pipeline_mode", "value": "x"}], "invalid `pipeline_mode`"),
        ([{"op": "replace", "path": "/persona_id", "value": "p2"}], "`persona_id` cannot be"),
        ([{"op": "jump", "path": "/a"}], "invalid `0.op`"),
        ({"op": "add"}, "request body must be"),
    ],
)
async def test_a_failing_patch_is_a_400_and_changes_nothing(
    api: Api, patch: object, error: str
) -> None:
    pid = (await api.create("/v2/personas", PERSONA))["persona_id"]
    response = await api.client.patch(f"/v2/personas/{pid}", json=patch)
    assert response.status_code == 400 and response.json()["error"].startswith(error)
    assert (await api.client.get(f"/v2/personas/{pid}")).json()["persona_name"] == "Bike shop"


async def test_patching_a_missing_persona_is_a_404(api: Api) -> None:
    response = await api.client.patch("/v2/personas/nope", json=[])
    assert response.status_code == 404 and "error" in response.json()


# ----------------------------------------------------------------------- auth


async def test_with_an_api_key_every_endpoint_needs_it(make_api: MakeApi) -> None:
    api = await make_api(api_key="k1")
    for method, path in [
        ("GET", "/v2/personas"),
        ("POST", "/v2/personas"),
        ("GET", "/v2/conversations"),
        ("POST", "/v2/conversations"),
        ("GET", "/v2/replicas"),
        ("DELETE", "/v2/conversations/x"),
    ]:
        for headers in ({}, {"x-api-key": "wrong"}):
            response = await api.client.request(method, path, json={}, headers=headers)
            assert response.status_code == 401, (method, path)
            assert response.json() == {"message": "Invalid access token"}
    response = await api.client.get("/v2/replicas", headers={"x-api-key": "k1"})
    assert response.status_code == 200
    assert (await api.client.get("/openapi.json")).status_code == 200  # docs stay open


# ----------------------------------------------------------------------- conversations


async def test_conversation_create_get_list_end_delete(make_api: MakeApi) -> None:
    # undeliverable webhooks: stored, not retried at the stop
    api = await make_api(webhook_timeout=0.2, webhook_shutdown_grace=0)
    pid = (await api.create("/v2/personas", PERSONA))["persona_id"]
    conv = await api.create(
        "/v2/conversations",
        {
            "persona_id": pid,
            "conversation_name": "Demo",
            "conversational_context": "The user is Sam.",
            "custom_greeting": "Hi!",
            "callback_url": "http://127.0.0.1:1/hook",
            "properties": {"max_call_duration": 600, "participant_left_timeout": 0},
        },
    )
    cid = conv["conversation_id"]
    assert conv["status"] == "active" and conv["conversation_name"] == "Demo"
    assert conv["conversation_url"] == f"http://127.0.0.1:8000/c/{cid}"
    assert conv["callback_url"] == "http://127.0.0.1:1/hook"
    assert conv["replica_id"] == "r-aria" and "meeting_token" not in conv
    assert (await api.client.get(f"/v2/conversations/{cid}")).json() == conv

    await api.clock.advance(1.0)
    other = await api.create("/v2/conversations", {"replica_id": "r-leo"})
    listed = (await api.client.get("/v2/conversations")).json()
    assert listed["total_count"] == 2 and len(listed["data"]) == 2

    ended = await api.client.post(f"/v2/conversations/{cid}/end")
    assert ended.status_code == 200
    assert ended.json()["status"] == "ended"
    assert ended.json()["shutdown_reason"] == "end_conversation_endpoint_hit"
    assert (await api.client.post(f"/v2/conversations/{cid}/end")).status_code == 200

    only_active = (await api.client.get("/v2/conversations", params={"status": "active"})).json()
    assert [c["conversation_id"] for c in only_active["data"]] == [other["conversation_id"]]
    page_2 = (await api.client.get("/v2/conversations", params={"limit": 1, "page": 2})).json()
    assert page_2["total_count"] == 2 and len(page_2["data"]) == 1

    verbose = (await api.client.get(f"/v2/conversations/{cid}", params={"verbose": "true"})).json()
    assert [e["event_type"] for e in verbose["events"]] == ["system.shutdown"]
    assert verbose["transcript"] == []

    assert (await api.client.delete(f"/v2/conversations/{cid}")).status_code == 204
    response = await api.client.get(f"/v2/conversations/{cid}")
    assert response.status_code == 404 and list(response.json()) == ["error"]
    assert (await api.client.post(f"/v2/conversations/{cid}/end")).status_code == 404
    assert (await api.client.delete(f"/v2/conversations/{cid}")).status_code == 404


async def test_require_auth_gives_a_meeting_token_in_the_url(api: Api) -> None:
    conv = await api.create("/v2/conversations", {"require_auth": True})
    token = conv["meeting_token"]
    assert len(token) >= 20
    assert conv["conversation_url"].endswith(f"/c/{conv['conversation_id']}?t={token}")


async def test_public_url_is_the_base_of_conversation_url(make_api: MakeApi) -> None:
    api = await make_api(public_url="https://replica.example.org/")
    conv = await api.create("/v2/conversations", {})
    assert conv["conversation_url"] == f"https://replica.example.org/c/{conv['conversation_id']}"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"persona_id": "nope"}, "`persona_id`: no persona 'nope'"),
        ({"replica_id": "r-nobody"}, "`replica_id`: no replica 'r-nobody'"),
        ({"callback_url": "ftp://x"}, "invalid `callback_url`"),
        ({"require_auth": "maybe"}, "invalid `require_auth`"),
        ({"properties": {"participant_left_timeout": -1}}, "invalid `properties.participant_left"),
        ({"properties": {"max_call_duration": "long"}}, "invalid `properties.max_call_duration`"),
        ({"conversation_name": ["x"]}, "invalid `conversation_name`"),
    ],
)
async def test_a_bad_conversation_is_a_400_naming_the_field(
    api: Api, body: object, error: str
) -> None:
    response = await api.client.post("/v2/conversations", json=body)
    assert response.status_code == 400 and response.json()["error"].startswith(error)


@pytest.mark.parametrize("params", [{"limit": 0}, {"page": 0}, {"status": "x"}, {"limit": "a"}])
async def test_bad_list_parameters_are_400s(api: Api, params: dict[str, str | int]) -> None:
    response = await api.client.get("/v2/conversations", params=params)
    assert response.status_code == 400
    assert response.json()["error"].startswith("invalid query parameter `")


async def test_verbose_has_the_events_and_the_transcript(api: Api) -> None:
    conv = await api.create(
        "/v2/conversations",
        {"custom_greeting": "Hello there.", "properties": {"participant_left_timeout": 0}},
    )
    cid = conv["conversation_id"]
    async with api.app.state.hub.participant(cid, None) as participant:
        channel, _ = await connect_memory_peer(participant.runtime, participant.clock)
        await participant.join()  # as a transport does once its channel is open
        await api.clock.advance(2.0)
        await channel.close()
    await api.clock.advance(0.01)  # the zero-second left timer fires
    await settle()
    await api.app.state.hub.settled()
    verbose = (await api.client.get(f"/v2/conversations/{cid}?verbose=true")).json()
    types = [e["event_type"] for e in verbose["events"]]
    assert types[0] == "system.replica_joined" and types[-1] == "system.shutdown"
    assert [e["seq"] for e in verbose["events"]] == list(range(1, len(types) + 1))
    assert verbose["shutdown_reason"] == "participant_left_timeout reached"
    (line,) = verbose["transcript"]
    assert line["role"] == "replica" and line["content"] == "Hello there."
    assert set(line) == {
        "role",
        "content",
        "timestamp",
        "seconds_from_start",
        "duration",
        "inference_id",
    }


# ----------------------------------------------------------------------- replicas, misc


async def test_replicas_lists_the_built_in_avatars(api: Api) -> None:
    body = (await api.client.get("/v2/replicas")).json()
    assert body["total_count"] == len(body["data"]) >= 1
    assert {"replica_id", "replica_name", "replica_type", "kind", "status"} <= set(body["data"][0])
    assert body["data"][0]["status"] == "completed"


async def test_unknown_paths_and_methods_use_the_error_body(api: Api) -> None:
    response = await api.client.get("/v2/nothing")
    assert response.status_code == 404 and response.json() == {"error": "Not Found"}
    response = await api.client.put("/v2/personas")
    assert response.status_code == 405 and list(response.json()) == ["error"]


async def test_openapi_is_served(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    assert {"/v2/personas", "/v2/conversations", "/v2/replicas"} <= set(spec["paths"])
