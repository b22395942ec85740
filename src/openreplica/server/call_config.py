"""`GET /c/{conversation_id}/config`: what the call page needs besides the offer.

- `ice_servers`: the server's STUN/TURN servers (`--webrtc-ice-servers`), in the
  browser's `RTCIceServer` shape, so the page's peer connection uses them too.
- `listening` / `answering`: whether the replica can hear the user and answer them.
  Known for sure once the replica has joined (its plugins are built); before that
  `answering` is predicted from the persona and `listening` is null. The page turns
  `false` into a plain sentence for the user; the operator's reasons go to the log and
  the persona's REST `warnings` (server/readiness.py).

Auth as the WebSocket: a conversation created with `require_auth` needs `?t=` or
`x-api-key`; the TURN credentials are not for anyone else.

In a cluster, a node that does not host the conversation asks the owner (where the
replica lives) for `listening` / `answering` once it is live, passing the client's
credential on; its own prediction stands when the owner cannot be asked.
"""

from __future__ import annotations

import hmac
import logging

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from openreplica.server.offer_forwarding import owner_url
from openreplica.server.persona_config import conversation_config
from openreplica.server.readiness import llm_problem
from openreplica.server.schemas import ConversationCreate, PersonaCreate

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter()


@router.get("/c/{conversation_id}/config", include_in_schema=False)
async def call_config(conversation_id: str, request: Request) -> JSONResponse:
    app = request.app
    services = app.state.services
    record = await services.store.get_conversation(conversation_id)
    if record is None:
        return JSONResponse({"error": f"no conversation {conversation_id!r}"}, status_code=404)
    if record.require_auth:
        credential = request.query_params.get("t") or request.headers.get("x-api-key") or ""
        valid = [v for v in (record.meeting_token, services.settings.api_key) if v]
        if not any(hmac.compare_digest(credential.encode(), v.encode()) for v in valid):
            return JSONResponse({"message": "Invalid access token"}, status_code=401)
    live = services.hub.capabilities(conversation_id) or await _owner_capabilities(
        request, conversation_id
    )
    if live is not None:
        listening, answering = live
    else:
        persona = PersonaCreate.stored(record.persona)
        conversation = ConversationCreate.stored(record.request)
        config = conversation_config(persona, conversation, services.settings, "r-unknown")
        listening, answering = None, await llm_problem(config) is None
    webrtc = app.state.webrtc_settings
    return JSONResponse(
        {
            "ice_servers": [server.as_dict() for server in webrtc.ice_servers],
            "listening": listening,
            "answering": answering,
        },
        headers={"cache-control": "no-store"},
    )


async def _owner_capabilities(
    request: Request, conversation_id: str
) -> tuple[bool | None, bool] | None:
    """(listening, answering) from the cluster node hosting the conversation, when it is
    another node and knows them (its replica has joined)."""
    url = await owner_url(request.app, conversation_id)
    if url is None:
        return None
    headers = {k: v for k, v in request.headers.items() if k == "x-api-key"}
    try:
        async with httpx.AsyncClient(timeout=5, trust_env=False) as http:
            answer = await http.get(
                f"{url.rstrip('/')}/c/{conversation_id}/config",
                params=dict(request.query_params),
                headers=headers,
            )
        body = answer.json() if answer.status_code == 200 else {}
    except (httpx.HTTPError, ValueError) as exc:
        log.info("%s: asking the owner for the call config failed: %s", conversation_id, exc)
        return None
    if not isinstance(body, dict):
        return None
    listening, answering = body.get("listening"), body.get("answering")
    if not isinstance(listening, bool) or not isinstance(answering, bool):
        return None
    return listening, answering
