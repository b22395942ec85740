"""The wiring of a draining cluster node's handovers (server/drain.py) to its node, hub
and the other nodes: the offer is `POST /cluster/v1/conversations/{id}/adopt`
`{"from_node": …, "handled": …}` on the target's node URL (API-key auth), answered 200
`{"adopted": true}` once the target moved the conversation to itself, 409
`{"adopted": false}` when it refused (server/routes_cluster.py)."""

from __future__ import annotations

import httpx

from openreplica.cluster import NodeStatus
from openreplica.server.cluster_node import ClusterNode
from openreplica.server.conversation_end import EndReasons
from openreplica.server.drain import OFFER_TIMEOUT, DrainLinks
from openreplica.server.hub import ConversationHub
from openreplica.server.store import Store

__all__ = ["ADOPT_PATH", "drain_links"]

ADOPT_PATH = "/cluster/v1/conversations/{conversation_id}/adopt"


def drain_links(
    node: ClusterNode, hub: ConversationHub, store: Store, api_key: str | None
) -> DrainLinks:
    headers = {"x-api-key": api_key} if api_key else {}

    async def hosted() -> list[str]:
        return await store.active_conversation_ids(node.node_id)

    async def halt(conversation_id: str) -> bool:
        return await hub.halt(conversation_id) is not None

    async def offer(target: NodeStatus, conversation_id: str) -> bool:
        url = target.url.rstrip("/") + ADOPT_PATH.format(conversation_id=conversation_id)
        async with httpx.AsyncClient(timeout=OFFER_TIMEOUT, trust_env=False) as http:
            # halted: how far it got on each relayed connection is final (relay_resend.py)
            body = {"from_node": node.node_id, "handled": node.handled_of(conversation_id)}
            answer = await http.post(url, json=body, headers=headers)
        if answer.status_code == 409:
            return False
        answer.raise_for_status()
        return bool(answer.json().get("adopted"))

    async def placed_on(conversation_id: str) -> str | None:
        record = await store.get_conversation(conversation_id)
        if record is None or record.status != "active":
            return None
        return record.node_id

    async def end_live(conversation_id: str) -> None:
        await hub.end(conversation_id, EndReasons.SERVER_SHUTDOWN)

    return DrainLinks(
        node_id=node.node_id,
        clock=node.clock,
        nodes=node.coordinator.nodes,
        hosted=hosted,
        is_live=lambda cid: cid in hub.live_ids(),
        halt=halt,
        offer=offer,
        placed_on=placed_on,
        end_halted=node.end_halted,
        end_live=end_live,
        moved_away=hub.moved_away,
    )
