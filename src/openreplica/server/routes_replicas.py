"""`/v2/replicas`: the avatars this server can render, shaped as the hosted API's replica
objects (SPEC §5): list, get one, rename.

Built-in characters are `system` replicas; portraits found in the data directory are
`user` replicas. Every replica here is ready to use, so `status` is `completed` and
`training_progress` is `100/100`. Names given with `PATCH …/name` are kept in the store
(the one source of truth across restarts and nodes) and handed to this node's catalog so
that calls show them at once.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query

from openreplica.plugins.avatar.catalog import AvatarInfo
from openreplica.server.deps import Services, iso, page_limit, require_api_key, services
from openreplica.server.errors import ERROR_RESPONSES, bad_request, not_found
from openreplica.server.request_body import GuardedRoute
from openreplica.server.schemas import ReplicaList, ReplicaOut, ReplicaRename

__all__ = ["router"]

router = APIRouter(
    prefix="/v2/replicas",
    tags=["replicas"],
    dependencies=[Depends(require_api_key)],
    responses=ERROR_RESPONSES,
    route_class=GuardedRoute,
)

ReplicaType = Literal["system", "user"]


def _type(info: AvatarInfo) -> ReplicaType:
    return "system" if info.kind == "character" else "user"


def replica_out(info: AvatarInfo, renamed: tuple[str, float] | None) -> dict[str, Any]:
    created = info.created_at
    updated = max(created or 0.0, renamed[1]) if renamed is not None else created
    return {
        "replica_id": info.replica_id,
        "face_id": info.replica_id,  # the hosted API's new name (SPEC §5)
        "replica_name": renamed[0] if renamed is not None else info.name,
        "replica_type": _type(info),
        "status": "completed",
        "training_progress": "100/100",
        "created_at": iso(created) if created is not None else None,
        "updated_at": iso(updated) if updated is not None else None,
        "kind": info.kind,
    }


def _find(s: Services, replica_id: str) -> AvatarInfo:
    for info in s.catalog.list():
        if info.replica_id == replica_id:
            return info
    raise not_found(f"replica {replica_id!r} not found")


@router.get(
    "", response_model=ReplicaList, response_model_exclude_none=True, summary="List replicas"
)
async def list_replicas(
    s: Annotated[Services, Depends(services)],
    limit: Annotated[int, Query(ge=1, description="clamped to 100")] = 100,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    replica_type: Annotated[ReplicaType | None, Query()] = None,
    replica_ids: Annotated[str | None, Query(description="comma-separated ids")] = None,
    verbose: Annotated[bool, Query(description="accepted; every field is always sent")] = False,
) -> dict[str, Any]:
    infos = s.catalog.list()
    if replica_type is not None:
        infos = [i for i in infos if _type(i) == replica_type]
    if replica_ids is not None:
        wanted = {rid.strip() for rid in replica_ids.split(",") if rid.strip()}
        infos = [i for i in infos if i.replica_id in wanted]
    limit = page_limit(limit)
    names = await s.store.replica_names()
    window = infos[(page - 1) * limit : page * limit]
    return {
        "data": [replica_out(i, names.get(i.replica_id)) for i in window],
        "total_count": len(infos),
    }


@router.get(
    "/{replica_id}",
    response_model=ReplicaOut,
    response_model_exclude_none=True,
    summary="Get a replica",
)
async def get_replica(
    replica_id: str,
    s: Annotated[Services, Depends(services)],
    verbose: Annotated[bool, Query(description="accepted; every field is always sent")] = False,
) -> dict[str, Any]:
    info = _find(s, replica_id)
    return replica_out(info, (await s.store.replica_names()).get(replica_id))


@router.patch(
    "/{replica_id}/name",
    response_model=ReplicaOut,
    response_model_exclude_none=True,
    summary="Rename a replica",
)
async def rename_replica(
    replica_id: str,
    body: Annotated[ReplicaRename, Body()],
    s: Annotated[Services, Depends(services)],
) -> dict[str, Any]:
    info = _find(s, replica_id)
    if _type(info) == "system":
        raise bad_request(f"`replica_id`: {replica_id!r} is a system replica; its name is fixed")
    now = s.clock.now()
    await s.store.set_replica_name(replica_id, body.replica_name, now)
    s.catalog.rename(replica_id, body.replica_name)
    return replica_out(info, (body.replica_name, now))
