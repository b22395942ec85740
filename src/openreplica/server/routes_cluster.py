"""`/cluster/v1/…`: what one node asks of the node hosting a conversation (REST auth).

- `POST /cluster/v1/conversations/{id}/placed`: another node created a conversation
  placed here; start its timers (participant absent timeout).
- `POST /cluster/v1/conversations/{id}/end-deleted`: end it because it is being deleted.
- `POST /cluster/v1/conversations/{id}/webrtc/offer`: a client's WebRTC offer that reached
  another node, `{"sdp", "type", "last_seq", "credential"}` (the client's own credential,
  checked again here): answered here as on the public offer route
  (server/offer_forwarding.py).
- `POST /cluster/v1/conversations/{id}/adopt` `{"from_node", "handled"}`: a draining node
  hands the conversation over (server/drain.py; `handled`: how far it got on each of
  the conversation's relayed connections, server/relay_resend.py): 200
  `{"adopted": true}` once this node moved it
  to itself and runs it, 409 `{"adopted": false}` when it will not (full, draining too,
  or it is not `from_node`'s any more).
`POST /v2/conversations/{id}/end` is forwarded as it is.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from openreplica.server.conversation_end import EndReasons
from openreplica.server.deps import Services, require_api_key, services
from openreplica.server.errors import not_found
from openreplica.server.request_body import parse_json, read_body
from openreplica.server.webrtc_routes import answer_offer, parse_last_seq

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


@router.post("/conversations/{conversation_id}/webrtc/offer")
async def forwarded_offer(conversation_id: str, request: Request) -> Response:
    limit = request.app.state.settings.max_offer_bytes
    body = parse_json(await read_body(request, limit), '{"sdp": "...", "type": "offer"}')
    credential = body.get("credential") if isinstance(body, dict) else None
    if not isinstance(body, dict) or not isinstance(body.get("sdp"), str):
        return JSONResponse({"error": "`sdp` (string) is required"}, status_code=400)
    if credential is not None and not isinstance(credential, str):
        return JSONResponse({"error": "`credential` must be a string"}, status_code=400)
    try:
        last_seq = parse_last_seq(body.get("last_seq"))
    except (TypeError, ValueError):
        return JSONResponse({"error": "`last_seq` must be a non-negative integer"}, 400)
    return await answer_offer(request.app, conversation_id, credential, body["sdp"], last_seq)


@router.post("/conversations/{conversation_id}/adopt")
async def adopt_handed_over(
    conversation_id: str, request: Request, s: Annotated[Services, Depends(services)]
) -> Response:
    body = parse_json(await read_body(request, 1 << 20), '{"from_node": "..."}')
    from_node = body.get("from_node") if isinstance(body, dict) else None
    if not isinstance(from_node, str) or not from_node:
        return JSONResponse({"error": "`from_node` (string) is required"}, status_code=400)
    handled = body.get("handled", {})
    if not isinstance(handled, dict) or not all(
        isinstance(k, str) and type(v) is int for k, v in handled.items()
    ):
        return JSONResponse(
            {"error": "`handled` must map relayed connections to numbers"}, status_code=400
        )
    adopted = await s.node.accept_handover(conversation_id, from_node, handled)
    return JSONResponse({"adopted": adopted}, status_code=200 if adopted else 409)
