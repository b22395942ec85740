"""Starting a new conversation on the node placement chose for it (docs/scaling.md).

`POST /v2/conversations` stores the conversation with the node the coordinator placed it
on, then tells that node (`POST /cluster/v1/conversations/{id}/placed`, which starts its
participant-absent timer; on this node, directly). The registry lists a node until its
heartbeat expires (`--node-ttl`), so placement may pick a node that died less than a TTL
ago. When telling it fails (connection refused, no answer within `--node-ttl`, a 5xx),
its placement is released, the conversation moves (compare-and-set on `node_id`) to the
node placement picks without it, and so on over at most `TRIES` nodes. When no other
node has room, the conversation is deleted and the creation answers the cluster-full 503.
A dead node never makes a creation answer 500.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import replace

import httpx

from openreplica.server.deps import Services
from openreplica.server.errors import ApiError, unavailable
from openreplica.server.store import ConversationRecord

log = logging.getLogger(__name__)

__all__ = ["FULL", "TRIES", "start_placed"]

#: nodes tried for one creation before it answers 503
TRIES = 3
FULL = (
    "every node of the cluster is at capacity (or draining): no conversation can start "
    "now; retry later or add nodes"
)


class _Unreachable(Exception):
    """The node placement chose could not be told (dead, or not answering)."""


async def start_placed(s: Services, record: ConversationRecord) -> ConversationRecord:
    """Start `record` (stored, placed on `record.node_id`) on its node, placing it again
    when that node does not answer; returns the record as it is hosted now. Raises the
    503 `ApiError` (the conversation deleted) when no node that answers has room."""
    tried: list[str] = []
    while True:
        node_id = record.node_id
        if node_id is None or node_id == s.node.node_id:
            s.hub.conversation_created(record)
            return record
        try:
            await _tell(s, node_id, record.conversation_id)
            return record
        except _Unreachable as exc:
            log.warning(
                "%s: placed on node %s, which did not answer (%s); placing it elsewhere",
                record.conversation_id,
                node_id,
                exc,
            )
        tried.append(node_id)
        with contextlib.suppress(Exception):
            await s.node.unplace(node_id)
        again = await s.node.place(tried) if len(tried) < TRIES else None
        if again is None:
            await s.store.delete_conversation(record.conversation_id)
            raise _full(tried)
        if not await s.store.move_conversation(record.conversation_id, node_id, again):
            # the dead node's heartbeat expired meanwhile and a node took it over
            with contextlib.suppress(Exception):
                await s.node.unplace(again)
            current = await s.store.get_conversation(record.conversation_id)
            if current is None:
                raise _full(tried)
            return current
        record = replace(record, node_id=again)


def _full(tried: list[str]) -> ApiError:
    return unavailable(f"{FULL} (not answering: {', '.join(tried)})")


async def _tell(s: Services, node_id: str, conversation_id: str) -> None:
    url = await s.node.node_url(node_id)
    if url is None:
        raise _Unreachable("no longer in the registry")
    headers = {"x-api-key": s.settings.api_key} if s.settings.api_key else {}
    path = f"/cluster/v1/conversations/{conversation_id}/placed"
    try:  # a live node answers at once: one that cannot within a TTL counts as dead
        async with httpx.AsyncClient(timeout=s.settings.node_ttl) as client:
            response = await client.post(url.rstrip("/") + path, headers=headers)
    except httpx.TransportError as exc:
        raise _Unreachable(f"{type(exc).__name__}: {exc}") from exc
    if response.status_code >= 500:
        raise _Unreachable(f"it answered {response.status_code}")
