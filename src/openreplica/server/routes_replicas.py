"""`GET /v2/replicas`: the avatars this server can render (SPEC §5)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from openreplica.server.deps import Services, require_api_key, services
from openreplica.server.errors import ERROR_RESPONSES
from openreplica.server.request_body import GuardedRoute
from openreplica.server.schemas import ReplicaList

__all__ = ["router"]

router = APIRouter(
    prefix="/v2/replicas",
    tags=["replicas"],
    dependencies=[Depends(require_api_key)],
    responses=ERROR_RESPONSES,
    route_class=GuardedRoute,
)


@router.get("", response_model=ReplicaList, summary="List replicas")
async def list_replicas(s: Annotated[Services, Depends(services)]) -> dict[str, Any]:
    replicas = [
        {"replica_id": r.replica_id, "replica_name": r.name, "kind": r.kind, "status": "ready"}
        for r in s.catalog.list()
    ]
    return {"data": replicas, "total_count": len(replicas)}
