"""This process as a node of the cluster (docs/scaling.md), or as the only node.

One code path for both: a single process uses the in-memory coordinator and pipes, a
cluster the Redis ones. The node
- heartbeats its status (capacity, load, CPU) every `node_heartbeat` seconds and
  re-registers by itself when the registry forgot it (Redis restarted);
- places new conversations (`place`: the least-loaded live node with room, atomically);
- serves the connections other nodes relay to the conversations it hosts (`accept`
  loop: the real participant channel behind a pipe);
- takes over the conversations of nodes whose heartbeat expired (one node wins each
  through a compare-and-set on `node_id`): they go on live here from the saved LLM state
  and the events (server/takeover.py); when that is impossible (every node full, or the
  restore fails) they end as `node_failed`; and settles what else a dead node left
  (`on_dead_nodes`: its replica training jobs);
- fences itself off when its heartbeat lease runs out (cut off from Redis: another node
  may take its conversations over), and takes back what is still its own when its
  heartbeats go through again (server/fencing.py);
- on stop, drains: takes no new placements, hands its conversations to the other nodes
  (server/drain.py; `accept_handover` is the taking side) and leaves the registry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Collection, Mapping

from openreplica.cluster import (
    Coordinator,
    EventStreams,
    NodeStatus,
    Pipe,
    PipeClosed,
    PipeOpen,
    Pipes,
    StaleAppend,
    raise_if_cancelled,
)
from openreplica.protocol import Sequencer, Shutdown, decode_event, encode
from openreplica.runtime import Clock
from openreplica.server.conversation_end import EndReasons, Finisher
from openreplica.server.event_reads import read_events
from openreplica.server.fencing import Lease
from openreplica.server.hub import MOVED, MOVED_REASON, ConversationHub, JoinRefused
from openreplica.server.relay import RelayLinks
from openreplica.server.relay_resend import Handled, Inbound
from openreplica.server.settings import ServerSettings
from openreplica.server.store import ConversationRecord, EventRecord, Store
from openreplica.server.takeover import restore
from openreplica.transports import ConversationChannel

log = logging.getLogger(__name__)

__all__ = ["ENDED", "TOO_SLOW", "ClusterNode", "share_of_orphans"]

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
        events: EventStreams | None = None,
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
        self.events = events
        self._draining = False
        #: no node is declared failed before this time (see `_may_fail_over`)
        self._sweep_after = math.inf
        #: the live nodes as of the last sweep (what relays check, without I/O)
        self.live_nodes: frozenset[str] = frozenset({self.node_id})
        self._tasks: list[asyncio.Task[None]] = []
        self._served: set[asyncio.Task[None]] = set()
        #: per relayed connection, the newest message handled here (relay_resend.py)
        self._handled = Handled()
        #: this node's hold on its conversations (server/fencing.py)
        self._lease = Lease(settings.node_ttl, settings.node_heartbeat)
        #: run when nodes have dropped out of the registry (see `on_dead_nodes`)
        self._death_hooks: list[Callable[[frozenset[str]], Awaitable[object]]] = []
        self._deaths_pending = True  # nodes may have died before this one started
        finisher.on_ended = self._ended

    def on_dead_nodes(self, hook: Callable[[frozenset[str]], Awaitable[object]]) -> None:
        """Call `hook(live nodes)` from the sweep once this node may declare nodes failed
        (`_may_fail_over`), and again whenever a node has dropped out of the registry
        since (a failed call is retried at the next sweep): what a dead node left
        besides its conversations (its replica training jobs) is settled there."""
        self._death_hooks.append(hook)

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def clustered(self) -> bool:
        return self.settings.clustered

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        await self._heartbeat()
        self._sweep_after = min(self._sweep_after, self._clock.now() + self.settings.node_ttl)
        accepting = asyncio.Event()
        self._tasks = [asyncio.create_task(self._accept(accepting.set), name="cluster-accept")]
        if self.clustered:  # relays reopen their pipes here: accept them first
            self.live_nodes = frozenset(n.node_id for n in await self.coordinator.nodes())
            await accepting.wait()
            await self._resume_own()
        if self.clustered:  # the only node never expires: no timers on its clock
            self._tasks.append(asyncio.create_task(self._beat(), name="cluster-heartbeat"))
            self._tasks.append(asyncio.create_task(self._sweep(), name="cluster-sweep"))
            self._tasks.append(asyncio.create_task(self._fence_watch(), name="cluster-fence"))

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

    async def place(self, exclude: Collection[str] = ()) -> str | None:
        """The node to host a new conversation (not one of `exclude`); None when the
        cluster is full."""
        return await self.coordinator.place(exclude)

    async def unplace(self, node_id: str) -> None:
        """Uncount a placement on `node_id` that did not go through."""
        await self.coordinator.release(node_id)

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
        moved = await self._store.get_conversation(record.conversation_id)
        if moved is None or moved.node_id in (None, self.node_id) or moved.status != "active":
            return None
        return moved.node_id  # another node took it over first

    async def owner_now(self, conversation_id: str) -> str | None:
        """The live node hosting an active conversation now, taking it over from a dead
        owner if needed; None when it has ended."""
        record = await self._store.get_conversation(conversation_id)
        if record is None or record.status != "active":
            return None
        return await self.owner_elsewhere(record) or self.node_id

    async def events_of(self, conversation_id: str, after_seq: int = 0) -> list[EventRecord]:
        """Every event the conversation has broadcast with `seq` > `after_seq`, on any
        node: hosted here, its writer stores what is pending first; hosted elsewhere,
        what the host has not stored yet comes from the event stream
        (server/event_reads.py)."""
        await self._hub.flush(conversation_id)
        return await read_events(self._store, self.events, conversation_id, after_seq)

    def relay_links(self) -> RelayLinks:
        """What a relayed WebSocket on this node needs (server/relay.py)."""
        if self.events is None:
            raise RuntimeError("relaying needs the cluster's event streams")
        store = self._store

        async def stored_events(conversation_id: str, after: int) -> list[tuple[int, bytes]]:
            return [(e.seq, e.data) for e in await store.load_events(conversation_id, after)]

        async def stored_newest(conversation_id: str) -> int:
            return (await store.last_event(conversation_id))[0]

        async def sleep(seconds: float) -> None:
            await self._clock.sleep_until(self._clock.now() + seconds)

        return RelayLinks(
            pipes=self.pipes,
            streams=self.events,
            stored_events=stored_events,
            stored_newest=stored_newest,
            is_live=lambda node_id: node_id in self.live_nodes,
            owner_now=self.owner_now,
            sleep=sleep,
            check_every=self.settings.node_heartbeat,
        )

    async def node_url(self, node_id: str) -> str | None:
        for node in await self.coordinator.nodes():
            if node.node_id == node_id:
                return node.url
        return None

    async def _sleep(self, seconds: float) -> None:
        await self._clock.sleep_until(self._clock.now() + seconds)

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
        sent = self._clock.now()
        new = await self.coordinator.heartbeat(status, ttl)
        self._lease.renewed(sent)
        if new:
            log.info("node %s registered (load %d)", self.node_id, status.load)
            # every live node re-registers within a heartbeat of this one: until a TTL
            # has passed, a node missing from the registry may just not have yet
            self._sweep_after = now + self.settings.node_ttl

    async def _beat(self) -> None:
        while True:
            raise_if_cancelled()  # one swallowed by a Redis call (cluster/cancellation.py)
            await self._clock.sleep_until(self._clock.now() + self.settings.node_heartbeat)
            try:
                await self._heartbeat()
            except Exception as exc:  # Redis away: keep serving, re-register when back
                self._sweep_after = math.inf  # the registry may come back empty
                log.warning("node %s: heartbeat failed (%s); retrying", self.node_id, exc)
                continue
            if self._hub.fenced and self._lease.held(self._clock.now()):
                await self._rejoin()

    # ------------------------------------------------------------------ fencing

    async def _fence_watch(self) -> None:
        """Fence this node off when its lease runs out (server/fencing.py)."""
        while True:
            now = self._clock.now()
            if self._hub.fenced or self._lease.held(now):
                wake = now + self.settings.node_heartbeat
                if not self._hub.fenced:
                    wake = min(wake, self._lease.until)
                await self._clock.sleep_until(wake)
                continue
            log.error(
                "node %s: no heartbeat for %.1f s: fencing itself off (its conversations "
                "go on on other nodes)",
                self.node_id,
                now - self._lease.until + self.settings.node_ttl - self._lease.margin,
            )
            try:
                stopped = await self._hub.fence(self._lease.margin / 2)
                log.warning("node %s: fenced off %d conversations", self.node_id, len(stopped))
            except Exception:
                log.exception("node %s: fencing itself off failed", self.node_id)

    async def _recount(self) -> None:
        """Set this node's placement count in the registry to what it hosts: a heartbeat
        held up by a frozen connection may have registered it again with the count from
        before others took its conversations over. (A placement on it between the two
        reads may be miscounted by one, until it ends.)"""
        hosted = len(await self._store.active_conversation_ids(self.node_id))
        listed = next(
            (n.load for n in await self.coordinator.nodes() if n.node_id == self.node_id), None
        )
        if listed is None:
            return
        for _ in range(listed - hosted):
            await self.coordinator.release(self.node_id)
        for _ in range(hosted - listed):
            await self.coordinator.claim(self.node_id)

    async def _rejoin(self) -> None:
        """Heartbeats go through again after this node fenced itself off: take back what
        nobody took over (as after a restart), then serve again."""
        try:
            await self._resume_own()
            await self._recount()
        finally:
            self._hub.unfence()
        log.warning("node %s: back in the cluster; took back what was still its own", self.node_id)

    # ------------------------------------------------------------------ failed nodes

    async def _sweep(self) -> None:
        """Every heartbeat: note the live nodes and take over the conversations of dead
        ones, spread over the nodes with room (`share_of_orphans`); when every node is
        full they end as `node_failed`."""
        first_seen: dict[str, float] = {}  # orphan -> when this node first saw it
        while True:
            raise_if_cancelled()  # one swallowed by a Redis call (cluster/cancellation.py)
            await self._clock.sleep_until(self._clock.now() + self.settings.node_heartbeat)
            try:
                nodes = await self.coordinator.nodes()
                before, self.live_nodes = self.live_nodes, frozenset(n.node_id for n in nodes)
                self._deaths_pending |= bool(before - self.live_nodes)
                await self._after_deaths()
                orphans = {
                    cid: owner
                    for cid, owner in (await self._store.active_conversation_nodes()).items()
                    if owner not in self.live_nodes
                }
                now = self._clock.now()
                first_seen = {cid: first_seen.get(cid, now) for cid in orphans}
                if not orphans or self._draining or not self._may_fail_over(self.live_nodes):
                    continue
                # one left to its node for two TTLs (that node is stuck): anyone takes it
                overdue = {c for c, t in first_seen.items() if now - t > 2 * self.settings.node_ttl}
                mine, room = share_of_orphans(self.node_id, nodes, sorted(orphans), overdue)
                for cid in mine:
                    await self._fail_over(cid, orphans[cid], room)
            except Exception as exc:
                log.warning("node %s: sweeping failed nodes failed (%s)", self.node_id, exc)

    async def _after_deaths(self) -> None:
        if not self._deaths_pending or self._draining:
            return
        if not self._may_fail_over(self.live_nodes):
            return
        self._deaths_pending = False
        for hook in self._death_hooks:
            try:
                await hook(self.live_nodes)
            except Exception as exc:
                self._deaths_pending = True
                log.warning("node %s: settling dead nodes' work failed (%s)", self.node_id, exc)

    async def _resume_own(self) -> None:
        """Restarted with the same node id (a crash, a pod restarted before its heartbeat
        expired): continue the conversations this node hosted, as a node taking them
        over would (the registry already counts them here)."""
        for cid in await self._store.active_conversation_ids(self.node_id):
            await self._fail_over(cid, self.node_id, count=False)

    def _may_fail_over(self, live: set[str] | frozenset[str]) -> bool:
        """Whether a node missing from the registry has failed, rather than the registry
        forgot it (Redis restarted empty: every node re-registers within a heartbeat).
        Not while this node is missing itself, nor within a TTL of re-registering."""
        return self.node_id in live and self._clock.now() >= self._sweep_after

    async def _fail_over(
        self, conversation_id: str, dead_node: str, room: bool = True, count: bool = True
    ) -> None:
        if self._draining:
            return  # stopping: a node that is not takes it over
        # participants joining here wait until it runs live here (or has ended)
        async with self._hub.lock(conversation_id):
            if not await self._store.move_conversation(conversation_id, dead_node, self.node_id):
                return  # another node did
            started = self._clock.now()
            if count:  # counted here now, uncounted when it ends
                with contextlib.suppress(Exception):
                    await self.coordinator.claim(self.node_id)
            taken = await self._run_moved(conversation_id, dead_node, fill_stream=True, run=room)
            if taken:
                log.warning(
                    "%s: node %s died; taken over in %.3f s",
                    conversation_id,
                    dead_node,
                    self._clock.now() - started,
                )
                return
            log.warning("%s: node %s died; ending it", conversation_id, dead_node)
            await self._end_moved(conversation_id, EndReasons.NODE_FAILED)

    # ------------------------------------------------------------------ drained nodes

    def handled_of(self, conversation_id: str) -> dict[str, int]:
        """How far this node got on each relayed connection of the conversation (given
        to the node it is handed to: `accept_handover`)."""
        return self._handled.of_conversation(conversation_id)

    async def accept_handover(
        self, conversation_id: str, from_node: str, handled: Mapping[str, int] | None = None
    ) -> bool:
        """A draining node offers one of its conversations (server/drain.py): move it
        here (compare-and-set on `node_id`) and run it from its saved state, as after a
        takeover. False (nothing done) when this node drains too, has no room, or the
        conversation is no longer `from_node`'s; True once it is this node's (running,
        or ended as `server_shutdown` when it could not be restored). `handled`: how far
        the draining node got on each relayed connection (relay_resend.py): what its
        relays send again up to there is skipped here, the rest handled here."""
        if self._draining or not self.clustered or self._hub.fenced:
            return False
        me = next((n for n in await self.coordinator.nodes() if n.node_id == self.node_id), None)
        if me is None or not _has_room(me):
            return False
        async with self._hub.lock(conversation_id):
            if not await self._store.move_conversation(conversation_id, from_node, self.node_id):
                return False
            started = self._clock.now()
            if handled:  # before a relay can open a pipe here (the stream's owner mark)
                self._handled.seed(conversation_id, handled)
            with contextlib.suppress(Exception):
                await self.coordinator.claim(self.node_id)
            # the draining node flushed its stream before offering it: nothing to fill
            taken = await self._run_moved(conversation_id, from_node, fill_stream=False)
            if taken:
                log.info(
                    "%s: handed over by draining node %s; running here after %.3f s",
                    conversation_id,
                    from_node,
                    self._clock.now() - started,
                )
                return True
            log.warning(
                "%s: handed over by %s but not restored; ending it", conversation_id, from_node
            )
            await self._end_moved(conversation_id, EndReasons.SERVER_SHUTDOWN)
            return True

    async def _run_moved(
        self, conversation_id: str, from_node: str, *, fill_stream: bool, run: bool = True
    ) -> bool:
        """A conversation just moved here from `from_node` (its `node_id` is this node's):
        store the events only the stream has (and, if asked, stream those only the
        database has), then restore and run it here unless `run` is False. False when it
        is not running here (logged when the restore failed)."""
        try:
            if self.events is not None:  # `from_node`'s appends are refused from now on
                await self.events.claim(conversation_id)
            await self._store_unwritten(conversation_id)
            if fill_stream:
                await self._stream_unstreamed(conversation_id)
            return run and await self._take_over(conversation_id)
        except Exception:
            log.exception("%s: taking it over from %s failed", conversation_id, from_node)
            return False

    async def _end_moved(self, conversation_id: str, reason: str) -> None:
        """End a conversation moved here that could not run here, and publish its end."""
        await self._finisher.end_unstarted(conversation_id, reason)
        await self._publish_last(conversation_id)

    async def end_halted(self, conversation_id: str) -> None:
        """End, as `server_shutdown`, a conversation halted here that no node took
        (server/drain.py): what was in flight is closed as a takeover would (a cut
        reply ends as an interruption), then `system.shutdown`, in the database and the
        stream, and its webhooks."""
        record = await self._store.get_conversation(conversation_id)
        if record is None or record.status != "active" or record.node_id != self.node_id:
            return
        stored = await self._store.load_events(conversation_id)
        restored = restore(conversation_id, await self._store.load_state(conversation_id), stored)
        sequencer = Sequencer(
            conversation_id,
            last_seq=restored.last_seq,
            last_timestamp=restored.last_timestamp,
            turn_idx=restored.sequencer_turn_idx,
        )
        now = self._clock.now()
        stamped = [sequencer.stamp(event, now) for event in restored.closing]
        records = [_record(conversation_id, e.seq or 0, encode(e)) for e in stamped]
        if records:
            if await self._store.add_events(records, owner=self.node_id):
                log.warning("%s: moved to another node meanwhile: not ended", conversation_id)
                return  # a target's late compare-and-set: it runs there now
            if self.events is not None:
                with contextlib.suppress(Exception):
                    await self.events.append(conversation_id, [(r.seq, r.data) for r in records])
        await self._finisher.end_unstarted(conversation_id, EndReasons.SERVER_SHUTDOWN)
        await self._publish_last(conversation_id)

    async def _store_unwritten(self, conversation_id: str) -> None:
        """Store the events the dead node put in the stream but not yet in the database
        (its writer lags by a batch): they were broadcast, so they are the truth."""
        if self.events is None:
            return
        after = (await self._store.last_event(conversation_id))[0]
        unwritten = [
            _record(conversation_id, seq, data)
            for seq, data in await self.events.read(conversation_id, after)
        ]
        if unwritten:
            await self._store.add_events(unwritten)
            log.info("%s: stored %d events only the stream had", conversation_id, len(unwritten))

    async def _stream_unstreamed(self, conversation_id: str) -> None:
        """Append to the stream the events the database has after its newest: the old
        owner stored them but could not publish them (it was cut off from Redis, then
        fenced itself off), so relays following the stream would miss them. A stream
        that is empty (expired, Redis restarted) is left so: relays read the database
        for what it lacks at its start."""
        if self.events is None:
            return
        newest = await self.events.newest(conversation_id)
        if newest == 0:
            return
        missing = await self._store.load_events(conversation_id, newest)
        if missing:
            with contextlib.suppress(StaleAppend):
                await self.events.append(conversation_id, [(e.seq, e.data) for e in missing])
            log.info("%s: streamed %d events only the database had", conversation_id, len(missing))

    async def _take_over(self, conversation_id: str) -> bool:
        """Continue a dead node's conversation here; False when it cannot be."""
        record = await self._store.get_conversation(conversation_id)
        if record is None or record.status != "active":
            return True  # ended meanwhile: nothing to run
        stored = await self._store.load_events(conversation_id)
        if not stored:  # nobody joined yet: the first participant starts it here
            self._hub.conversation_created(record)
            return True
        last = stored[-1]
        ended = decode_event(last.data)
        if isinstance(ended, Shutdown):  # it ended as the node died
            await self._finisher.ended(record, ended.properties.shutdown_reason)
            return True
        state = await self._store.load_state(conversation_id)
        restored = restore(conversation_id, state, stored)
        if self.events is not None:  # relays move here before the first event from here
            await self.events.mark_owner(conversation_id, restored.last_seq, self.node_id)
        await self._hub.adopt(record, restored)
        return True

    async def _publish_last(self, conversation_id: str) -> None:
        """Put the stored `system.shutdown` of a conversation ended here in its event
        stream too, where relays wait for it."""
        if self.events is None:
            return
        try:
            events = await self._store.load_events(conversation_id)
            if events:
                await self.events.append(conversation_id, [(events[-1].seq, events[-1].data)])
        except StaleAppend:
            pass
        except Exception as exc:
            log.warning("%s: could not publish its end (%s)", conversation_id, exc)

    # ------------------------------------------------------------------ relayed connections

    async def _accept(self, ready: Callable[[], None]) -> None:
        while True:
            try:
                async for request in self.pipes.accept(self.node_id, ready):
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
                    p.runtime,
                    pipe.send,
                    p.clock,
                    p.limits,
                    p.history,
                    p.conversation_bucket,
                    sequenced=not request.stream_events,  # the relay reads the stream
                )
                await channel.open(request.last_seq)
                await p.join()  # the replica joins (the first time)
                try:
                    inbound = Inbound(
                        self._handled,
                        pipe.send,
                        self._sleep,
                        conversation=request.conversation_id,
                    )
                    code, reason = await _pump(pipe, channel, p.moved, inbound)
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


def _has_room(node: NodeStatus) -> bool:
    return not node.draining and (node.capacity == 0 or node.load < node.capacity)


def share_of_orphans(
    me: str, nodes: list[NodeStatus], orphans: list[str], overdue: set[str]
) -> tuple[list[str], bool]:
    """The dead nodes' conversations (sorted) `me` should take over, and whether it has
    room for them. Every node computes the same deal from the registry: the orphans go
    round the nodes with room, least loaded first, so a dead node's conversations spread
    over the survivors (two nodes that disagree meet at the compare-and-set on
    `node_id`); `overdue` ones go to anyone. With no room anywhere, every node may take
    them, to end them as `node_failed`."""
    takers = sorted(
        (n for n in nodes if _has_room(n)),
        key=lambda n: (n.load / n.capacity if n.capacity else 0.0, n.load, n.node_id),
    )
    if not takers:
        return orphans, False
    if me not in {n.node_id for n in takers}:
        return [], False
    dealt = [c for i, c in enumerate(orphans) if takers[i % len(takers)].node_id == me]
    return dealt + [c for c in orphans if c in overdue and c not in dealt], True


def _record(conversation_id: str, seq: int, data: bytes) -> EventRecord:
    event = decode_event(data)
    return EventRecord(conversation_id, seq, event.event_type, event.timestamp or 0.0, data)


async def _pump(
    pipe: Pipe, channel: ConversationChannel, moved: asyncio.Event, inbound: Inbound
) -> tuple[int, str]:
    """Feed the pipe's frames to the channel until either side is done (or the
    conversation moved to another node: the relay follows it there), acknowledging
    what was handled (`inbound`)."""

    async def read() -> None:
        while True:
            message = await pipe.receive()
            if isinstance(message, PipeClosed):
                return
            if channel.runtime.halted:
                # it moves to another node (drain, fencing): not handled nor acknowledged
                # here, so the relay sends it again to the new owner (relay_resend.py)
                continue
            if inbound.accept(message):
                channel.receive(message)  # handled by the time it returns
                inbound.done()
            await asyncio.sleep(0)

    reader = asyncio.create_task(read())
    finished = asyncio.create_task(channel.finished.wait())
    moving = asyncio.create_task(moved.wait())
    try:
        await asyncio.wait({reader, finished, moving}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (reader, finished, moving):
            task.cancel()
        await asyncio.gather(reader, finished, moving, return_exceptions=True)
        await inbound.aclose()
    if moved.is_set() and not channel.finished.is_set():
        return MOVED, MOVED_REASON
    if channel.finished.is_set():
        if channel.overflowed:
            return TOO_SLOW, "too far behind: reconnect with last_seq"
        return ENDED, "conversation has ended"
    return 1000, "client left"
