"""A uvicorn server that deals with the conversations before it cuts their connections.

On a stop (SIGTERM, Ctrl-C) uvicorn closes every WebSocket with 1012 and only then runs
the app's lifespan shutdown, so conversations ended there would reach no client. This
server first stops accepting connections. In a cluster it then hands each conversation
to another node (server/drain.py, at most `HANDOVER_BOUND` seconds: its clients resume
there). Every conversation still here then ends through the hub (clients get
`system.shutdown`, then the transport closes them with 4410; SPEC §2.1); it waits a
bounded time (`SHUTDOWN_CLOSE_GRACE`) for them to go, and then lets uvicorn shut down as
usual. One process (no cluster) only ends them, as always.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import uvicorn

from openreplica.server.drain import hand_over_all
from openreplica.server.handover import drain_links
from openreplica.server.hub import ConversationHub
from openreplica.server.relay_census import RelayCensus

log = logging.getLogger(__name__)

__all__ = ["SHUTDOWN_CLOSE_GRACE", "EndConversationsFirst"]

#: seconds participants get to receive `system.shutdown` and their close before uvicorn
#: cuts what is left
SHUTDOWN_CLOSE_GRACE = 5.0


class EndConversationsFirst(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app_state: Any) -> None:
        super().__init__(config)
        #: the app's `state`; its `hub` exists once the lifespan has started
        self._app_state = app_state

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for listener in self.servers:
            listener.close()  # no new connections while the conversations end
        hub: ConversationHub | None = getattr(self._app_state, "hub", None)
        node = getattr(self._app_state, "node", None)
        if node is not None:
            await node.drain()  # no new placements here while it stops
        if hub is not None and node is not None and node.clustered and not self.force_exit:
            hub.hand_over()
            try:
                services = self._app_state.services
                links = drain_links(node, hub, services.store, services.settings.api_key)
                await hand_over_all(links)
            except Exception:
                log.exception("handing the conversations over before the stop failed")
        if hub is not None and not self.force_exit:
            try:
                await hub.stop(SHUTDOWN_CLOSE_GRACE)
            except Exception:
                log.exception("ending the conversations before the stop failed")
        relays: RelayCensus | None = getattr(self._app_state, "relays", None)
        if node is not None and relays is not None and relays.count() and not self.force_exit:
            # relayed sockets whose owner stops too get its system.shutdown and 4410 first
            async def keep_running() -> set[str]:
                return {n.node_id for n in await node.coordinator.nodes() if not n.draining}

            try:
                await relays.settle(keep_running, SHUTDOWN_CLOSE_GRACE)
            except Exception:
                log.exception("waiting for relayed connections before the stop failed")
        await super().shutdown(sockets)
