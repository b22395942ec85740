"""This process as a node of the cluster (docs/scaling.md), or as the only node.

One code path for both: a single process uses the in-memory coordinator and pipes, a
cluster the Redis ones. The node
- heartbeats its status (capacity, load, CPU) every `node_heartbeat` seconds and
  re-registers by itself when the registry forgot it (Redis restarted);
- places new conversations (`place`: the least-loaded live node with room, atomically);
- serves the connections other nodes relay to the conversations it hosts (`accept`
  loop: the real participant channel behind a pipe);
- ends, as `node_failed`, the conversations of nodes whose heartbeat expired (one node
  wins each through a compare-and-set on `node_id`; taking them over live is not built);
- on stop, drains: takes no new placements and leaves the registry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable

from openreplica.cluster import Coordinator, NodeStatus, Pipe, PipeClosed, PipeOpen, Pipes
from openreplica.runtime import Clock
from openreplica.server.conversation_end import EndReasons, Finisher
from openreplica.server.hub import ConversationHub, JoinRefused
from openreplica.server.settings import ServerSettings
from openreplica.server.store import ConversationRecord, Store
from openreplica.transports import ConversationChannel

log = logging.getLogger(__name__)

__all__ = ["ENDED", "TOO_SLOW", "ClusterNode"]

ENDED = 4410
TOO_SLOW = 1013


class ClusterNode:
    def __init__(
        self,
        settings: ServerSettings,
        coordinator: Coordinator,
        pipes: Pipes,
        store: Store,
        hub: ConversationHub,
        finisher: Finisher,
        clock: Clock,
        cpu_seconds: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.node_id = settings.this_node_id
        self.coordinator = coordinator
        self.pipes = pipes
        self._store = store
        self._hub = hub
        self._finisher = finisher
        self._clock = clock
        self._cpu_seconds = cpu_seconds
        self._cpu_mark = (clock.now(), cpu_seconds())
        self._draining = False
        #: no node is declared failed before this time (see `_may_fail_over`)
        self._sweep_after = math.inf
        self._tasks: list[asyncio.Task[None]] = []
        self._served: set[asyncio.Task[None]] = set()
        finisher.on_ended = self._ended

    @property
    def clustered(self) -> bool:
        return self.settings.clustered

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        await self._heartbeat()
        self._tasks = [asyncio.create_task(self._accept(), name="cluster-accept")]
        if self.clustered:  # the only node never expires: no timers on its clock
            self._tasks.append(asyncio.create_task(self._beat(), name="cluster-heartbeat"))
            self._tasks.append(asyncio.create_task(self._sweep(), name="cluster-sweep"))

    async def drain(self) -> None:
        """Take no new placements (SIGTERM: the hub then ends what is live here)."""
        self._draining = True
        with contextlib.suppress(Exception):
            await self._heartbeat()

    async def aclose(self) -> None:
        await self.drain()
        for task in [*self._tasks, *self._served]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._served, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.coordinator.leave(self.node_id)
        await self.coordinator.aclose()

    # ------------------------------------------------------------------ placement

    async def place(self) -> str | None:
        """The node to host a new conversation; None when the cluster is full."""
        return await self.coordinator.place()

    async def owner_elsewhere(self, record: ConversationRecord) -> str | None:
        """The live node hosting `record` when it is not this one (relay to it)."""
        owner = record.node_id
        if not self.clustered or owner is None or owner == self.node_id:
            return None
        if record.status != "active":
            return None  # ended: any node answers from the store
        live = {n.node_id for n in await self.coordinator.nodes()}
        if owner in live or not self._may_fail_over(live):
            return owner
        await self._fail_over(record.conversation_id, owner)
        return None

    async def node_url(self, node_id: str) -> str | None:
        for node in await self.coordinator.nodes():
            if node.node_id == node_id:
                return node.url
        return None

    async def _ended(self, record: ConversationRecord) -> None:
        if record.node_id == self.node_id or not self.clustered:
            await self.coordinator.release(self.node_id)

    # ------------------------------------------------------------------ heartbeat

    async def _heartbeat(self) -> None:
        now, cpu = self._clock.now(), self._cpu_seconds()
        then, cpu_then = self._cpu_mark
        self._cpu_mark = (now, cpu)
        share = (cpu - cpu_then) / (now - then) if now > then else 0.0
        load = len(await self._store.active_conversation_ids(self.node_id))
        status = NodeStatus(
            node_id=self.node_id,
            url=self.settings.node_url or self.settings.base_url,
            capacity=self.settings.node_capacity,
            load=load if self.clustered else len(await self._store.active_conversation_ids()),
            cpu=share,
            draining=self._draining,
        )
        ttl = self.settings.node_ttl if self.clustered else math.inf
        if await self.coordinator.heartbeat(status, ttl):
            log.info("node %s registered (load %d)", self.node_id, status.load)
            # every live node re-registers within a heartbeat of this one: until a TTL
            # has passed, a node missing from the registry may just not have yet
            self._sweep_after = now + self.settings.node_ttl

    async def _beat(self) -> None:
        while True:
            await self._clock.sleep_until(self._clock.now() + self.settings.node_heartbeat)
            try:
                await self._heartbeat()
            except Exception as exc:  # Redis away: keep serving, re-register when back
                self._sweep_after = math.inf  # the registry may come back empty
                log.warning("node %s: heartbeat failed (%s); retrying", self.node_id, exc)

    # ------------------------------------------------------------------ failed nodes

    async def _sweep(self) -> None:
        while True:
            await self._clock.sleep_until(self._clock.now() + self.settings.node_ttl)
            try:
                live = {n.node_id for n in await self.coordinator.nodes()}
                if not self._may_fail_over(live):
                    continue
                for cid, owner in (await self._store.active_conversation_nodes()).items():
                    if owner not in live and owner != self.node_id:
                        await self._fail_over(cid, owner)
            except Exception as exc:
                log.warning("node %s: sweeping failed nodes failed (%s)", self.node_id, exc)

    def _may_fail_over(self, live: set[str]) -> bool:
        """Whether a node missing from the registry has failed, rather than the registry
        forgot it (Redis restarted empty: every node re-registers within a heartbeat).
        Not while this node is missing itself, nor within a TTL of re-registering."""
        return self.node_id in live and self._clock.now() >= self._sweep_after

    async def _fail_over(self, conversation_id: str, dead_node: str) -> None:
        if await self._store.move_conversation(conversation_id, dead_node, self.node_id):
            log.warning("%s: node %s died; ending it", conversation_id, dead_node)
            await self._finisher.end_unstarted(conversation_id, EndReasons.NODE_FAILED)

    # ------------------------------------------------------------------ relayed connections

    async def _accept(self) -> None:
        while True:
            try:
                async for request in self.pipes.accept(self.node_id):
                    task = asyncio.create_task(self._serve(request), name="cluster-pipe")
                    self._served.add(task)
                    task.add_done_callback(self._served.discard)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("node %s: relay inbox failed (%s); retrying", self.node_id, exc)
                await self._clock.sleep_until(self._clock.now() + self.settings.node_heartbeat)

    async def _serve(self, request: PipeOpen) -> None:
        """A participant on another node: the real channel, its frames through a pipe."""
        pipe = self.pipes.attach(request)
        code, reason = 1000, "relay closed"
        try:
            async with self._hub.participant(request.conversation_id, request.credential) as p:
                channel = ConversationChannel(
                    p.runtime, pipe.send, p.clock, p.limits, p.history, p.conversation_bucket
                )
                await channel.open(request.last_seq)
                await p.join()  # the replica joins (the first time)
                try:
                    code, reason = await _pump(pipe, channel)
                finally:
                    await channel.close()
        except JoinRefused as refused:
            code, reason = refused.close_code, refused.message
        except Exception:
            log.exception("%s: relayed connection failed", request.conversation_id)
            code, reason = 1011, "internal error"
        finally:
            with contextlib.suppress(Exception):
                await pipe.close(code, reason)


async def _pump(pipe: Pipe, channel: ConversationChannel) -> tuple[int, str]:
    """Feed the pipe's frames to the channel until either side is done."""

    async def read() -> None:
        while True:
            message = await pipe.receive()
            if isinstance(message, PipeClosed):
                return
            channel.receive(message)
            await asyncio.sleep(0)

    reader = asyncio.create_task(read())
    finished = asyncio.create_task(channel.finished.wait())
    try:
        await asyncio.wait({reader, finished}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        reader.cancel()
        finished.cancel()
        await asyncio.gather(reader, finished, return_exceptions=True)
    if channel.finished.is_set():
        if channel.overflowed:
            return TOO_SLOW, "too far behind: reconnect with last_seq"
        return ENDED, "conversation has ended"
    return 1000, "client left"
