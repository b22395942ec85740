"""`/v2/conversations`: create, get (`?verbose=true`), list, end, delete (SPEC §5)."""

from __future__ import annotations

import json
import secrets
import uuid
from typing import Annotated, Any, Literal

import httpx
from fastapi import APIRouter, Body, Depends, Query, Response
from fastapi.responses import FileResponse

from openreplica.server.conversation_end import EndReasons, transcript_of
from openreplica.server.deps import Services, iso, page_limit, require_api_key, services
from openreplica.server.errors import ERROR_RESPONSES, bad_request, not_found, unavailable
from openreplica.server.placement import FULL, start_placed
from openreplica.server.request_body import GuardedRoute
from openreplica.server.schemas import (
    ConversationCreate,
    ConversationList,
    ConversationOut,
    with_new_names,
)
from openreplica.server.store import ConversationRecord

__all__ = ["conversation_out", "router"]

router = APIRouter(
    prefix="/v2/conversations",
    tags=["conversations"],
    dependencies=[Depends(require_api_key)],
    responses=ERROR_RESPONSES,
    route_class=GuardedRoute,
)


def conversation_out(record: ConversationRecord, base_url: str) -> dict[str, Any]:
    """The conversation object. Keys without a value are left out, except `callback_url`,
    which the contract lists on every conversation (null when unset); the routes
    serialise with `response_model_exclude_unset` so that null survives."""
    url = f"{base_url}/c/{record.conversation_id}"
    out: dict[str, Any] = {
        "conversation_id": record.conversation_id,
        "conversation_name": record.conversation_name,
        "conversation_url": f"{url}?t={record.meeting_token}" if record.require_auth else url,
        "status": record.status,
        "callback_url": record.callback_url,
        "created_at": iso(record.created_at),
        "updated_at": iso(record.updated_at),
        "persona_id": record.persona_id,
        "replica_id": record.replica_id,
    }
    if record.node_id is not None:
        out["node_id"] = record.node_id  # SPEC §5: in a cluster, the hosting node
    if record.require_auth:
        out["meeting_token"] = record.meeting_token
    if record.shutdown_reason is not None:
        out["shutdown_reason"] = record.shutdown_reason
    for key in ("conversational_context", "custom_greeting", "audio_only", "properties"):
        if key in record.request:
            out[key] = record.request[key]
    if record.request.get("test_mode"):
        out["test_mode"] = True
    return {k: v for k, v in with_new_names(out).items() if v is not None or k == "callback_url"}


async def _get(s: Services, conversation_id: str) -> ConversationRecord:
    record = await s.store.get_conversation(conversation_id)
    if record is None:
        raise not_found(f"conversation {conversation_id!r} not found")
    return record


@router.post(
    "",
    response_model=ConversationOut,
    response_model_exclude_unset=True,
    summary="Create a conversation",
)
async def create_conversation(
    body: Annotated[ConversationCreate, Body()], s: Annotated[Services, Depends(services)]
) -> dict[str, Any]:
    persona: dict[str, Any] = {}
    if body.persona_id is not None:
        found = await s.store.get_persona(body.persona_id)
        if found is None:
            raise bad_request(f"`persona_id`: no persona {body.persona_id!r}")
        persona = found.document
    known = [r.replica_id for r in s.catalog.list()]
    replica_id = body.replica_id or persona.get("default_replica_id") or known[0]
    if replica_id not in known:
        field = "replica_id" if body.replica_id else "default_replica_id of the persona"
        raise bad_request(f"`{field}`: no replica {replica_id!r}; see GET /v2/replicas")
    node_id = await s.node.place()
    if node_id is None:
        raise unavailable(FULL)
    now = s.clock.now()
    record = ConversationRecord(
        conversation_id="c" + uuid.uuid4().hex[:12],
        conversation_name=body.conversation_name,
        persona_id=body.persona_id,
        replica_id=replica_id,
        status="ended" if body.test_mode else "active",
        callback_url=body.callback_url,
        require_auth=body.require_auth,
        meeting_token=secrets.token_urlsafe(24) if body.require_auth else None,
        created_at=now,
        updated_at=now,
        ended_at=now if body.test_mode else None,
        shutdown_reason=None,
        request={**body.model_dump(mode="json", exclude_none=True), "replica_id": replica_id},
        persona=persona,
        node_id=node_id if s.node.clustered else None,
    )
    await s.store.add_conversation(record)
    if not body.test_mode:  # a test-mode conversation never goes live
        # its timers start on its node; one that died since placement: placed again
        record = await start_placed(s, record)
    return conversation_out(record, s.settings.base_url)


async def _on_owner(s: Services, record: ConversationRecord, path: str) -> bool:
    """POST `path` to the live node hosting `record`; False when that is this node (or
    none is live: then this node acts)."""
    owner = await s.node.owner_elsewhere(record)
    url = await s.node.node_url(owner) if owner else None
    if url is None:
        return False
    headers = {"x-api-key": s.settings.api_key} if s.settings.api_key else {}
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(url.rstrip("/") + path, headers=headers)
    except httpx.TransportError as exc:  # it died less than a TTL ago: retry then
        raise unavailable(f"the node hosting the conversation did not answer ({exc!r})") from exc
    if response.status_code >= 500:
        raise unavailable(f"the node hosting the conversation failed: {response.text[:200]}")
    return True


@router.get(
    "",
    response_model=ConversationList,
    response_model_exclude_unset=True,
    summary="List conversations",
)
async def list_conversations(
    s: Annotated[Services, Depends(services)],
    limit: Annotated[int, Query(ge=1, description="clamped to 100")] = 10,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    status: Annotated[Literal["active", "ended"] | None, Query()] = None,
) -> dict[str, Any]:
    limit = page_limit(limit)
    records, total = await s.store.list_conversations(limit, (page - 1) * limit, status)
    return {
        "data": [conversation_out(r, s.settings.base_url) for r in records],
        "total_count": total,
    }


@router.get(
    "/{conversation_id}",
    response_model=ConversationOut,
    response_model_exclude_unset=True,
    summary="Get a conversation",
)
async def get_conversation(
    conversation_id: str,
    s: Annotated[Services, Depends(services)],
    verbose: Annotated[bool, Query(description="add `events` and `transcript`")] = False,
) -> dict[str, Any]:
    record = await _get(s, conversation_id)
    out = conversation_out(record, s.settings.base_url)
    if verbose:
        events = await s.node.events_of(conversation_id)
        out["events"] = [json.loads(e.data) for e in events]
        out["transcript"] = transcript_of(events)
    return out


@router.post(
    "/{conversation_id}/end",
    response_model=ConversationOut,
    response_model_exclude_unset=True,
    summary="End it",
)
async def end_conversation(
    conversation_id: str, s: Annotated[Services, Depends(services)]
) -> dict[str, Any]:
    record = await _get(s, conversation_id)
    if not await _on_owner(s, record, f"/v2/conversations/{conversation_id}/end"):
        await s.hub.end(conversation_id, EndReasons.ENDPOINT)
    return conversation_out(await _get(s, conversation_id), s.settings.base_url)


@router.get(
    "/{conversation_id}/recording",
    response_class=FileResponse,
    summary="Download its recording (WebM)",
    responses={200: {"content": {"video/webm": {}}}},
)
async def get_recording(
    conversation_id: str, s: Annotated[Services, Depends(services)]
) -> FileResponse:
    record = await _get(s, conversation_id)
    recordings = s.hub.recordings
    path = recordings.ready(conversation_id) if recordings is not None else None
    if path is None:
        failure = recordings.failure(conversation_id) if recordings is not None else None
        properties = ConversationCreate.stored(record.request).properties
        if failure is not None:
            message = failure
        elif properties is None or properties.enable_recording is not True:
            message = f"conversation {conversation_id!r} was not recorded (enable_recording)"
        else:
            message = f"the recording of {conversation_id!r} is not ready yet"
        raise not_found(message)
    return FileResponse(path, media_type="video/webm", filename=f"{conversation_id}.webm")


@router.delete("/{conversation_id}", status_code=204, response_class=Response, summary="Delete it")
async def delete_conversation(
    conversation_id: str, s: Annotated[Services, Depends(services)]
) -> Response:
    record = await _get(s, conversation_id)
    if record.status == "active" and not await _on_owner(
        s, record, f"/cluster/v1/conversations/{conversation_id}/end-deleted"
    ):
        await s.hub.end(conversation_id, EndReasons.DELETED)
    await s.store.delete_conversation(conversation_id)
    if s.hub.recordings is not None:
        s.hub.recordings.delete(conversation_id)
    return Response(status_code=204)
