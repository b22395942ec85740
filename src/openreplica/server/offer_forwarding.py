"""A WebRTC offer that reaches a cluster node other than the conversation's owner is
forwarded to the owner (docs/scaling.md).

The receiving node authorises the client and reads the bounded body as for any offer,
then POSTs `{"sdp", "type", "last_seq", "credential"}` to the owner's
`/cluster/v1/conversations/{id}/webrtc/offer` (node-to-node, API-key auth). The owner
joins the participant itself (checking the client's credential again) and answers; its
answer, with the owner's ICE candidates, goes back to the client unchanged, so media and
the `app-message` data channel flow between the client and the owner directly. Only the
signalling takes the extra hop.

If the owner moved between the look-up and the forward (a takeover), the owner answers
503 and the offer is routed again, at most `ROUTING_ATTEMPTS` times. An owner that cannot
be reached answers 503: the client retries, and once the owner's heartbeat has expired
the conversation is failed over (`ClusterNode.owner_elsewhere`) and served here.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response

__all__ = ["FORWARD_PATH", "ROUTING_ATTEMPTS", "forward_offer", "owner_url"]

log = logging.getLogger(__name__)

FORWARD_PATH = "/cluster/v1/conversations/{conversation_id}/webrtc/offer"
#: times an offer is routed again when the owner moved meanwhile
ROUTING_ATTEMPTS = 3
#: seconds the owner has to answer (it gathers its ICE candidates first)
FORWARD_TIMEOUT = 30.0


async def owner_url(app: FastAPI, conversation_id: str) -> str | None:
    """The URL of the live node hosting `conversation_id` when it is not this one."""
    node = getattr(app.state, "node", None)
    if node is None or not node.clustered:
        return None
    record = await app.state.services.store.get_conversation(conversation_id)
    if record is None:
        return None
    owner = await node.owner_elsewhere(record)
    if owner is None:
        return None
    url: str | None = await node.node_url(owner)
    return url


async def forward_offer(
    app: FastAPI,
    conversation_id: str,
    credential: str | None,
    sdp: str,
    last_seq: int | None,
) -> Response | None:
    """The owner's answer to the offer; None when this node hosts the conversation (or
    no live node does: then this node answers, as its own failover decides)."""
    api_key = app.state.settings.api_key
    headers = {"x-api-key": api_key} if api_key else {}
    payload: dict[str, Any] = {
        "sdp": sdp,
        "type": "offer",
        "last_seq": last_seq,
        "credential": credential,
    }
    response: Response | None = None
    for _ in range(ROUTING_ATTEMPTS):
        url = await owner_url(app, conversation_id)
        if url is None:
            return None  # this node hosts it (now), or it has ended: answer here
        target = url.rstrip("/") + FORWARD_PATH.format(conversation_id=conversation_id)
        try:
            async with httpx.AsyncClient(timeout=FORWARD_TIMEOUT, trust_env=False) as http:
                answer = await http.post(target, json=payload, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("%s: forwarding the offer to %s failed: %s", conversation_id, url, exc)
            return JSONResponse(
                {"error": f"the node hosting the conversation cannot be reached ({exc}); retry"},
                status_code=503,
            )
        response = Response(
            answer.content,
            status_code=answer.status_code,
            media_type=answer.headers.get("content-type", "application/json"),
        )
        if answer.status_code != 503:
            return response
        # 503: the owner refused because another node hosts it now: route again
    return response
