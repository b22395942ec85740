"""`/cluster/v1/…`: what one node asks of the node hosting a conversation (REST auth).

- `POST /cluster/v1/conversations/{id}/placed`: another node created a conversation
  placed here; start its timers (participant absent timeout).
- `POST /cluster/v1/conversations/{id}/end-deleted`: end it because it is being deleted.
`POST /v2/conversations/{id}/end` is forwarded as it is.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from openreplica.server.conversation_end import EndReasons
from openreplica.server.deps import Services, require_api_key, services
from openreplica.server.errors import not_found

__all__ = ["router"]

router = APIRouter(
    prefix="/cluster/v1", dependencies=[Depends(require_api_key)], include_in_schema=False
)


@router.post("/conversations/{conversation_id}/placed")
async def conversation_placed(
    conversation_id: str, s: Annotated[Services, Depends(services)]
) -> dict[str, str]:
    record = await s.store.get_conversation(conversation_id)
    if record is None:
        raise not_found(f"conversation {conversation_id!r} not found")
    s.hub.conversation_created(record)
    return {"status": "ok"}


@router.post("/conversations/{conversation_id}/end-deleted")
async def conversation_end_deleted(
    conversation_id: str, s: Annotated[Services, Depends(services)]
) -> dict[str, str]:
    await s.hub.end(conversation_id, EndReasons.DELETED)
    return {"status": "ok"}
