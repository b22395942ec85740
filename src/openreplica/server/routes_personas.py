"""`/v2/personas`: create, list, get, JSON Patch (RFC 6902), delete (SPEC §5); every route
is also served under `/v2/pals`, the hosted API's new name for personas.

A persona is at most `max_persona_bytes` JSON-encoded, at create and after a PATCH
(checked after each `copy`, the operation that can double a document)."""

from __future__ import annotations

import copy
import uuid
from typing import Annotated, Any, Literal

import jsonpatch
import jsonpointer
import msgspec
from fastapi import APIRouter, Body, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from openreplica.server.deps import Services, iso, page_limit, require_api_key, services
from openreplica.server.errors import (
    ERROR_RESPONSES,
    bad_request,
    describe_validation_error,
    not_found,
)
from openreplica.server.readiness import persona_warnings
from openreplica.server.request_body import GuardedRoute
from openreplica.server.schemas import (
    NEW_NAMES,
    PersonaCreate,
    PersonaList,
    PersonaOut,
    with_new_names,
)
from openreplica.server.store import PersonaRecord

__all__ = ["pals_router", "persona_out", "router"]

_routes = APIRouter(
    dependencies=[Depends(require_api_key)], responses=ERROR_RESPONSES, route_class=GuardedRoute
)

SECRET_KEYS = ("api_key",)
READ_ONLY = ("persona_id", "pal_id", "created_at", "updated_at")


class PatchOperation(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")
    op: Literal["add", "remove", "replace", "move", "copy", "test"]
    path: str
    value: Any = None
    from_: str | None = Field(default=None, alias="from")


def _redacted(document: dict[str, Any]) -> dict[str, Any]:
    """The document with secrets in layers masked: they are write-only."""
    out = copy.deepcopy(document)
    for layer in (out.get("layers") or {}).values():
        if isinstance(layer, dict):
            for key in SECRET_KEYS:
                if layer.get(key):
                    layer[key] = "********"
    return out


def persona_out(record: PersonaRecord) -> dict[str, Any]:
    return with_new_names(
        {
            "persona_id": record.persona_id,
            # personas made through this API are the caller's own, as on the hosted API
            "persona_type": "user",
            **_redacted(record.document),
            "persona_name": record.persona_name,
            "created_at": iso(record.created_at),
            "updated_at": iso(record.updated_at),
        }
    )


async def _checked(s: Services, record: PersonaRecord) -> dict[str, Any]:
    """`persona_out` plus the operator's `warnings` when the persona cannot work."""
    out = persona_out(record)
    warnings = await persona_warnings(PersonaCreate.stored(record.document), s.settings)
    if warnings:
        out["warnings"] = warnings
    return out


def _document(persona: PersonaCreate) -> dict[str, Any]:
    document = persona.model_dump(mode="json", exclude_none=True)
    document.pop("warnings", None)  # computed on every read, never stored
    return document


def _check_replica(s: Services, persona: PersonaCreate) -> None:
    """A default replica must exist now, so the mistake surfaces here rather than when a
    conversation is created (SPEC §5)."""
    replica_id = persona.default_replica_id
    if replica_id is not None and replica_id not in s.catalog:
        raise bad_request(f"`default_replica_id`: no replica {replica_id!r}; see GET /v2/replicas")


def _check_size(document: object, limit: int) -> None:
    """400 when the persona, JSON-encoded, is over `max_persona_bytes`."""
    size = len(msgspec.json.encode(document))
    if size > limit:
        raise bad_request(
            f"the persona would be {size} bytes; the limit is {limit} bytes (max_persona_bytes)"
        )


def _apply_patch(document: dict[str, Any], ops: list[dict[str, Any]], limit: int) -> object:
    """Apply a JSON Patch to a copy of `document`, one operation at a time, so that
    `copy` operations (each may double the document) are refused once it is too big,
    long before it could fill memory."""
    patched: object = copy.deepcopy(document)
    try:
        for op in ops:
            patched = jsonpatch.JsonPatch([op]).apply(patched, in_place=True)
            if op["op"] == "copy":
                _check_size(patched, limit)
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
        raise bad_request(f"JSON Patch failed: {exc}") from None
    return patched


async def _get(s: Services, persona_id: str) -> PersonaRecord:
    record = await s.store.get_persona(persona_id)
    if record is None:
        raise not_found(f"persona {persona_id!r} not found")
    return record


@_routes.post(
    "", response_model=PersonaOut, response_model_exclude_none=True, summary="Create a persona"
)
async def create_persona(
    body: Annotated[PersonaCreate, Body()], s: Annotated[Services, Depends(services)]
) -> dict[str, Any]:
    _check_replica(s, body)
    document = _document(body)
    _check_size(document, s.settings.max_persona_bytes)
    now = s.clock.now()
    record = PersonaRecord(
        persona_id="p" + uuid.uuid4().hex[:12],
        persona_name=body.persona_name,
        created_at=now,
        updated_at=now,
        document=document,
    )
    await s.store.add_persona(record)
    return await _checked(s, record)


@_routes.get(
    "", response_model=PersonaList, response_model_exclude_none=True, summary="List personas"
)
async def list_personas(
    s: Annotated[Services, Depends(services)],
    limit: Annotated[int, Query(ge=1, description="clamped to 100")] = 10,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> dict[str, Any]:
    limit = page_limit(limit)
    records, total = await s.store.list_personas(limit, (page - 1) * limit)
    return {"data": [persona_out(r) for r in records], "total_count": total}


@_routes.get(
    "/{persona_id}",
    response_model=PersonaOut,
    response_model_exclude_none=True,
    summary="Get a persona",
)
async def get_persona(persona_id: str, s: Annotated[Services, Depends(services)]) -> dict[str, Any]:
    return await _checked(s, await _get(s, persona_id))


@_routes.patch(
    "/{persona_id}",
    response_model=PersonaOut,
    response_model_exclude_none=True,
    summary="Change a persona (JSON Patch)",
)
async def patch_persona(
    persona_id: str,
    operations: Annotated[list[PatchOperation], Body()],
    s: Annotated[Services, Depends(services)],
) -> dict[str, Any]:
    record = await _get(s, persona_id)
    ops = [op.model_dump(by_alias=True, exclude_none=False) for op in operations]
    for op in ops:
        if op.get("from") is None:
            op.pop("from", None)
        if op["op"] in ("remove", "move", "copy", "test") and "value" in op and op["value"] is None:
            op.pop("value")
        for key in ("path", "from"):  # `/default_face_id` patches `/default_replica_id`
            head, _, rest = str(op.get(key) or "").lstrip("/").partition("/")
            if head in NEW_NAMES and head not in READ_ONLY:
                op[key] = "/" + NEW_NAMES[head] + (f"/{rest}" if rest else "")
        if op["path"].split("/")[1:2] and op["path"].split("/")[1] in READ_ONLY:
            raise bad_request(f"`{op['path'].lstrip('/')}` cannot be changed")
    patched = _apply_patch(record.document, ops, s.settings.max_persona_bytes)
    if not isinstance(patched, dict):
        raise bad_request("JSON Patch failed: the persona must stay a JSON object")
    try:
        persona = PersonaCreate.model_validate(patched)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        raise bad_request(describe_validation_error(errors)) from None
    _check_replica(s, persona)
    document = _document(persona)
    _check_size(document, s.settings.max_persona_bytes)
    await s.store.update_persona(persona_id, persona.persona_name, document, s.clock.now())
    return await _checked(s, await _get(s, persona_id))


@_routes.delete(
    "/{persona_id}", status_code=204, response_class=Response, summary="Delete a persona"
)
async def delete_persona(persona_id: str, s: Annotated[Services, Depends(services)]) -> Response:
    if not await s.store.delete_persona(persona_id):
        raise not_found(f"persona {persona_id!r} not found")
    return Response(status_code=204)


router = APIRouter()
router.include_router(_routes, prefix="/v2/personas", tags=["personas"])
#: the same routes under the hosted API's new name
pals_router = APIRouter()
pals_router.include_router(_routes, prefix="/v2/pals", tags=["pals"])
