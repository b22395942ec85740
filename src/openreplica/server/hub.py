"""The live conversations of one server process, and their lifecycle (SPEC §1.2, §5).

A conversation is `active` from creation. The replica joins when `start` is called: the
transports call it once the first participant's channel is open (so that participant
sees `system.replica_joined` as `seq` 1, then hears the greeting), `send-app-message`
calls it before any participant, and a cluster node taking a conversation over can call
it from the persisted record. Nothing starts a conversation as a side effect. The
phases a live conversation goes through are a table in server/live.py. Transports:

    async with hub.participant(conversation_id, credential) as p:
        channel = ConversationChannel(p.runtime, send, p.clock, p.limits, p.history)
        await channel.open(last_seq)
        await p.join()                     # the replica joins (once; later calls wait)
        ...                                # leaving the block = the participant left

A conversation ends, always with `system.shutdown` as its last event, on:
`POST …/end` (`end_conversation_endpoint_hit`), `max_call_duration` counted from the
replica joining (`max_call_duration reached`), `participant_left_timeout` after the last
participant left (`participant_left_timeout reached`; 0 = at once), no participant
within `participant_absent_timeout` of creation (`participant_absent_timeout reached`),
the server stopping (`server_shutdown`: `stop()` runs before the server cuts its
connections, so participants see `system.shutdown` and the close), and a bug in the
conversation's runtime (`internal_error`, runtime/guard.py). Timers sleep on the
injected clock. A cluster node that fenced itself off (`fence`, server/fencing.py) stops
its conversations without ending them: another node goes on with them.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

from openreplica.cluster import EventStreams
from openreplica.protocol import Sequencer
from openreplica.runtime import NULL_OBSERVER, Clock, ConversationRuntime, RuntimeObserver
from openreplica.server.conversation_end import EndReasons, Finisher
from openreplica.server.event_stream import StreamPublisher
from openreplica.server.event_writer import EventBatcher, EventWriter
from openreplica.server.live import Live, Phase
from openreplica.server.persona_config import conversation_config
from openreplica.server.plugin_factory import PluginFactory
from openreplica.server.readiness import llm_problem
from openreplica.server.recordings import Recordings
from openreplica.server.schemas import ConversationCreate, PersonaCreate
from openreplica.server.settings import ServerSettings
from openreplica.server.store import ConversationRecord, Store
from openreplica.server.takeover import Restored, StateSaver
from openreplica.transports import ChannelLimits, History, TokenBucket

log = logging.getLogger(__name__)

__all__ = [
    "MOVED",
    "MOVED_FLUSH",
    "MOVED_REASON",
    "ConversationHub",
    "EndReasons",
    "JoinRefused",
    "Participant",
]

#: the close code of a participant whose conversation moved to another cluster node
#: (WebSocket 1012 "service restart": reconnect, with `last_seq`, through any node)
MOVED = 1012
MOVED_REASON = "conversation moved to another node: reconnect with last_seq"
#: seconds the refusals queued for a participant whose conversation moved
#: (`conversation_moving`) may take to go out before it is closed
MOVED_FLUSH = 1.0


class JoinRefused(Exception):
    """A participant may not join: close code for sockets, status for HTTP."""

    def __init__(self, close_code: int, http_status: int, message: str) -> None:
        super().__init__(message)
        self.close_code = close_code
        self.http_status = http_status
        self.message = message


@dataclass
class Participant:
    conversation_id: str
    runtime: ConversationRuntime
    limits: ChannelLimits
    history: History
    clock: Clock
    #: the replica joins now if it has not (`ConversationHub.start`): call it once this
    #: participant's channel is open, so the participant sees the join and the greeting.
    #: A conversation that ended meanwhile is no error here: the channel hears its
    #: `system.shutdown`.
    join: Callable[[], Awaitable[None]]
    #: the rate limit shared by all of the conversation's connections
    conversation_bucket: TokenBucket | None = None
    #: the conversation was created with `audio_only` (no video track needed)
    audio_only: bool = False
    #: the persona's name (the replica's display name in clients), when it has one
    persona_name: str | None = None
    #: set when the conversation moved to another cluster node (this one drains):
    #: transports close this participant with `MOVED` so that it reconnects there
    moved: asyncio.Event = field(default_factory=asyncio.Event)


async def _within(
    seconds: float, work: Awaitable[object], what: str | None, conversation_id: str
) -> None:
    """Await `work` for at most `seconds` (then cancel it), logging `what` was not done."""
    try:
        async with asyncio.timeout(seconds):
            await work
    except TimeoutError:
        if what is not None:
            log.warning("%s: fenced off before its last events were %s", conversation_id, what)


def _seconds(value: float | None, default: float) -> float:
    """A timeout from the conversation's `properties` (validated when it was created:
    never negative), else the server's default."""
    return default if value is None else value


class ConversationHub:
    def __init__(
        self,
        store: Store,
        settings: ServerSettings,
        clock: Clock,
        plugin_factory: PluginFactory,
        finisher: Finisher,
        default_replica_id: str,
        recordings: Recordings | None = None,
        *,
        observe: Callable[[str], RuntimeObserver] = lambda _: NULL_OBSERVER,
        events: EventStreams | None = None,
    ) -> None:
        """`events`: in a cluster, each live conversation's events also go to its event
        stream and its LLM state is saved at turn boundaries (server/takeover.py)."""
        self._store = store
        #: every live conversation's events, one database transaction per batch
        self._event_batches = EventBatcher(
            store,
            delay=settings.testing_event_write_delay,
            owner=settings.this_node_id if settings.clustered else None,
        )
        self._events = events
        #: the metrics/traces observer of a conversation (server/metrics.py, tracing.py)
        self._observe = observe
        self._settings = settings
        self._clock = clock
        self._plugins = plugin_factory
        self._finisher = finisher
        self._default_replica_id = default_replica_id
        #: call recordings (`properties.enable_recording`); None = recording is off
        self.recordings = recordings
        self.limits = ChannelLimits(
            max_message_bytes=settings.max_message_bytes,
            rate=settings.rate_limit,
            burst=settings.rate_burst,
        )
        self._live: dict[str, Live] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._absent: dict[str, asyncio.Task[None]] = {}
        self._ending: dict[str, asyncio.Task[None]] = {}
        #: halted here, being handed to another cluster node (`halt`, `moved_away`)
        self._moving: dict[str, Live] = {}
        #: the cluster node drains: conversations not live here yet are not started here
        self._handing_over = False
        self._participants = 0
        self._nobody = asyncio.Event()
        self._nobody.set()
        #: cut off from the cluster (`fence`): nothing runs or starts here until `unfence`
        self.fenced = False
        self._fence_signal = asyncio.Event()

    # ------------------------------------------------------------------ queries

    def census(self) -> tuple[int, int]:
        """(live conversations, connected participants), for metrics."""
        return len(self._live), sum(live.participants for live in self._live.values())

    def capabilities(self, conversation_id: str) -> tuple[bool, bool] | None:
        """(can listen, can answer) of a live conversation; None when it is not live."""
        live = self._live.get(conversation_id)
        if live is None:
            return None
        plugins = live.runtime.plugins
        listening = plugins.vad is not None and plugins.asr is not None
        answering = live.runtime.settings.pipeline_mode != "full" or plugins.llm is not None
        return listening, answering

    async def flush(self, conversation_id: str) -> None:
        """Store every event a live conversation has broadcast so far."""
        live = self._live.get(conversation_id)
        if live is not None:
            await live.writer.flush()

    async def settled(self) -> None:
        """Wait until every conversation being ended is stored as ended."""
        while self._ending:
            await asyncio.gather(*list(self._ending.values()), return_exceptions=True)

    # ------------------------------------------------------------------ lifecycle

    def conversation_created(self, record: ConversationRecord) -> None:
        """Start the participant-absent timer of a new conversation."""
        properties = ConversationCreate.stored(record.request).properties
        seconds = _seconds(
            properties.participant_absent_timeout if properties else None,
            self._settings.participant_absent_timeout,
        )
        self._absent[record.conversation_id] = self._timer(
            record.conversation_id, seconds, EndReasons.ABSENT
        )

    async def end(self, conversation_id: str, reason: str) -> None:
        """End a conversation (idempotent); returns once it is stored as ended."""
        await asyncio.shield(self._begin_end(conversation_id, reason))

    async def aclose(self, reason: str = EndReasons.SERVER_SHUTDOWN) -> None:
        """End every live conversation (the server is stopping)."""
        for task in self._absent.values():
            task.cancel()
        self._absent.clear()
        for conversation_id in list(self._live):
            self._begin_end(conversation_id, reason)
        await asyncio.gather(*self._ending.values(), return_exceptions=True)
        await self._event_batches.aclose()

    async def stop(self, grace: float) -> None:
        """The server is stopping, before its connections are cut: end every live
        conversation, then give participants up to `grace` seconds to receive
        `system.shutdown` and be closed by their transport (4410)."""
        await self.aclose()
        nobody = asyncio.ensure_future(self._nobody.wait())
        timer = asyncio.ensure_future(self._clock.sleep_until(self._clock.now() + grace))
        try:
            await asyncio.wait({nobody, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            nobody.cancel()
            timer.cancel()

    @asynccontextmanager
    async def participant(
        self, conversation_id: str, credential: str | None
    ) -> AsyncIterator[Participant]:
        live = await self._admit(conversation_id, credential)
        absent = self._absent.pop(conversation_id, None)
        if absent is not None:
            absent.cancel()
        live.participants += 1
        self._participants += 1
        self._nobody.clear()
        left = live.timers.pop("left", None)
        if left is not None:
            left.cancel()

        async def history(after_seq: int) -> list[tuple[int, bytes]]:
            await live.writer.flush()
            events = await self._store.load_events(conversation_id, after_seq)
            return [(e.seq, e.data) for e in events]

        async def join() -> None:
            with suppress(JoinRefused):
                await self.start(conversation_id)

        try:
            yield Participant(
                conversation_id,
                live.runtime,
                self.limits,
                history,
                self._clock,
                join,
                conversation_bucket=live.bucket,
                audio_only=live.request.audio_only,
                persona_name=live.persona.persona_name or None,
                moved=live.moved,
            )
        finally:
            self._participants -= 1
            if self._participants == 0:
                self._nobody.set()
            live.participants -= 1
            stopped = live.ending or live.moving or live.moved.is_set()  # moved: fenced
            if live.participants == 0 and not stopped:
                properties = live.request.properties
                seconds = _seconds(
                    properties.participant_left_timeout if properties else None,
                    self._settings.participant_left_timeout,
                )
                live.timers["left"] = self._timer(conversation_id, seconds, EndReasons.LEFT)

    # ------------------------------------------------------------------ joining

    async def start(self, conversation_id: str) -> ConversationRuntime:
        """The replica joins the conversation now: `system.replica_joined`, then the
        greeting, and `max_call_duration` starts counting. Builds the conversation's
        runtime from its stored record first if this process has not (so a node taking
        over a conversation can call this with nothing but the persisted record).
        Idempotent: a later call waits for the first one's join. Transports call it once
        their channel is open, so their participant sees the join; the caller has been
        authorised (`participant`, or the API key). Raises `JoinRefused` (4410) when the
        conversation has ended or is ending, 4404 when there is no such conversation."""
        live = self._live.get(conversation_id)
        if live is None and await self._store.get_conversation(conversation_id) is None:
            raise JoinRefused(4404, 404, f"no conversation {conversation_id!r}")
        live = await self._open(conversation_id)
        if live.phase is Phase.OPEN:
            live.move(Phase.JOINING)
            properties = live.request.properties
            seconds = _seconds(
                properties.max_call_duration if properties else None,
                self._settings.max_call_duration,
            )
            live.timers["max"] = self._timer(conversation_id, seconds, EndReasons.MAX_DURATION)
            live.joining = asyncio.get_running_loop().create_task(
                self._join(live), name=f"join-{conversation_id}"
            )
        if live.joining is not None:
            with suppress(Exception):  # a failed join is reported by the runtime itself
                await asyncio.shield(live.joining)
        if live.ending or live.runtime.ended:
            raise JoinRefused(4410, 410, f"conversation {conversation_id!r} has ended")
        return live.runtime

    def lock(self, conversation_id: str) -> asyncio.Lock:
        """Held while a conversation's live state is built: a participant joining waits
        (a takeover holds it from moving the conversation here to `adopt`)."""
        return self._locks.setdefault(conversation_id, asyncio.Lock())

    async def adopt(self, record: ConversationRecord, restored: Restored) -> None:
        """Run, live, a conversation this node took over from a failed node (the caller
        holds `lock`): it goes on from `restored` — already joined, so no
        `system.replica_joined` and no greeting; the `closing` events first — and waits
        for its participants to come back (`participant_left_timeout` runs until one
        does). `max_call_duration` still counts from the replica joining."""
        cid = record.conversation_id
        if cid in self._live or cid in self._ending:
            return
        live = await self._build(record, restored)
        live.move(Phase.JOINING)
        context = restored.context
        if context is None:
            context = live.runtime.engine.context.context
        live.runtime.resume(restored.turn_idx, context, tuple(restored.history), restored.closing)
        live.move(Phase.JOINED)
        properties = live.request.properties
        seconds = _seconds(
            properties.max_call_duration if properties else None,
            self._settings.max_call_duration,
        )
        if restored.joined_at is not None:
            seconds = max(0.0, restored.joined_at + seconds - self._clock.now())
        live.timers["max"] = self._timer(cid, seconds, EndReasons.MAX_DURATION)
        left = _seconds(
            properties.participant_left_timeout if properties else None,
            self._settings.participant_left_timeout,
        )
        live.timers["left"] = self._timer(cid, left, EndReasons.LEFT)

    def hand_over(self) -> None:
        """This cluster node drains (server/drain.py): a conversation that is not live
        here yet is not started here any more (its participants are told to reconnect;
        another node will host it)."""
        self._handing_over = True

    def live_ids(self) -> list[str]:
        """The conversations live on this node."""
        return list(self._live)

    async def halt(self, conversation_id: str) -> ConversationRecord | None:
        """Stop a live conversation here without ending it, so that another cluster node
        goes on with it (this one drains): its runtime stops where it is (a reply in
        progress stops where it was heard; server/takeover.py ends it as an
        interruption on the next owner), and its events and LLM state are stored and in
        its stream. Nobody may join here any more (they are told to reconnect). Returns
        its record, or None when it cannot move (not joined, ending, recording here):
        then `end` it. Follow with `moved_away` once another node runs it, or once it
        has ended."""
        async with self.lock(conversation_id):
            live = self._live.get(conversation_id)
            if live is None or live.phase is not Phase.JOINED or live.recorder is not None:
                return None
            live.move(Phase.MOVING)
            self._moving[conversation_id] = live
            del self._live[conversation_id]
            for timer in live.timers.values():
                timer.cancel()
            await live.runtime.halt()
            if live.saver is not None:
                await live.saver.aclose()
            if live.publisher is not None:
                await live.publisher.aclose()
            await live.writer.aclose()
            return live.record

    def moved_away(self, conversation_id: str) -> None:
        """A halted conversation runs on another node now (or has ended there): its
        participants here are closed with `MOVED` and resume through any node."""
        live = self._moving.pop(conversation_id, None)
        if live is not None:
            live.moved.set()
        self._locks.pop(conversation_id, None)

    async def _join(self, live: Live) -> None:
        try:
            await live.runtime.start()
        finally:
            if live.phase is Phase.JOINING:
                live.move(Phase.JOINED)

    def allow_interaction(self, conversation_id: str) -> bool:
        """Take one interaction from the live conversation's shared rate limit (for senders
        that are not a participant channel, e.g. `send-app-message`)."""
        live = self._live.get(conversation_id)
        return live is None or live.bucket.allow(self._clock.now())

    async def authorise(self, conversation_id: str, credential: str | None) -> None:
        """Raise `JoinRefused` unless `credential` may join `conversation_id`: 4401 for a
        missing or wrong credential, checked before existence unless the credential is
        the server's API key, so that a guess never learns which conversations exist;
        then 4404 when there is no such conversation. (Without a server API key the REST
        API is open and lists them anyway.)"""
        live = self._live.get(conversation_id)
        record = live.record if live else await self._store.get_conversation(conversation_id)
        if record is None:
            key = self._settings.api_key
            if key is not None and not (
                credential is not None and hmac.compare_digest(credential.encode(), key.encode())
            ):
                raise JoinRefused(4401, 401, "Invalid access token")
            raise JoinRefused(4404, 404, f"no conversation {conversation_id!r}")
        if not self._authorised(record, credential):
            raise JoinRefused(4401, 401, "Invalid access token")

    async def _admit(self, conversation_id: str, credential: str | None) -> Live:
        await self.authorise(conversation_id, credential)
        return await self._open(conversation_id)

    async def _open(self, conversation_id: str) -> Live:
        """The live state of an active conversation, built (OPEN: not joined yet) if
        needed."""
        async with self.lock(conversation_id):
            if self.fenced or conversation_id in self._moving:
                raise JoinRefused(MOVED, 503, MOVED_REASON)
            live = self._live.get(conversation_id)
            if live is None and self._handing_over and conversation_id not in self._ending:
                raise JoinRefused(MOVED, 503, MOVED_REASON)
            if live is None and conversation_id not in self._ending:
                record = await self._store.get_conversation(conversation_id)
                if record is not None and record.status == "active":
                    self._check_hosted_here(record)
                    live = await self._build(record)
            if live is None or live.ending:
                raise JoinRefused(4410, 410, f"conversation {conversation_id!r} has ended")
            return live

    def _check_hosted_here(self, record: ConversationRecord) -> None:
        """In a cluster only the node hosting a conversation runs it (WebSockets on other
        nodes are relayed, WebRTC offers forwarded, before they get here)."""
        here = self._settings.this_node_id
        if self._settings.clustered and record.node_id not in (None, here):
            raise JoinRefused(
                1013, 503, f"conversation hosted by cluster node {record.node_id!r}: connect there"
            )

    async def _hosted_elsewhere(self, conversation_id: str) -> bool:
        """A cluster node other than this one hosts it now (placed again after this node
        was slow to start it, or taken over): its timers here are stale."""
        if not self._settings.clustered:
            return False
        record = await self._store.get_conversation(conversation_id)
        here = self._settings.this_node_id
        return record is not None and record.node_id not in (None, here)

    def _authorised(self, record: ConversationRecord, credential: str | None) -> bool:
        if credential is None:
            return not record.require_auth
        valid = [v for v in (record.meeting_token, self._settings.api_key) if v]
        return any(hmac.compare_digest(credential.encode(), v.encode()) for v in valid)

    async def _build(self, record: ConversationRecord, restored: Restored | None = None) -> Live:
        """The conversation's runtime and what hangs off it (event writer, in a cluster
        the event stream and the saved state, webhooks, recording), not started;
        `restored`: its sequencer goes on from a node that died (`adopt`)."""
        request = ConversationCreate.stored(record.request)
        persona = PersonaCreate.stored(record.persona)
        config = conversation_config(persona, request, self._settings, self._default_replica_id)
        for warning in config.warnings:
            log.warning("%s: %s", record.conversation_id, warning)
        if config.llm_engine != "openai":  # no network probe on the join path
            problem = await llm_problem(config)
            if problem is not None:
                log.warning("%s: %s", record.conversation_id, problem)
        plugins = await self._plugins(config)
        cid = record.conversation_id
        sequencer = None
        if restored is not None:  # taken over: seq and turn_idx go on where they were
            sequencer = Sequencer(
                cid,
                last_seq=restored.last_seq,
                last_timestamp=restored.last_timestamp,
                turn_idx=restored.sequencer_turn_idx,
            )
        runtime = ConversationRuntime(
            cid,
            config.engine,
            plugins,
            self._clock,
            sequencer=sequencer,
            on_internal_error=lambda: self._end_on_internal_error(cid),
            observer=self._observe(cid),
        )
        # Listeners wake in the order they subscribed: the event stream first (relays on
        # other nodes wait for it); the database writes (batched for the node,
        # server/event_writer.py) and the state saver let the channels' sends go first.
        publisher = saver = None
        if self._events is not None:
            publisher = StreamPublisher(self._events, cid)
            runtime.subscribe(publisher.on_event)
        writer = EventWriter(self._event_batches, cid)
        runtime.subscribe(writer.on_event)
        if self._events is not None:
            saver = StateSaver(self._store, runtime, self._clock.now, self._settings.this_node_id)
            runtime.subscribe(saver.on_event)
        if record.callback_url:
            runtime.subscribe(self._finisher.webhook_listener(record))
        bucket = TokenBucket(
            self._settings.conversation_rate_limit,
            self._settings.conversation_rate_burst,
            self._clock.now(),
        )
        live = Live(
            record, request, persona, runtime, writer, bucket, publisher=publisher, saver=saver
        )
        recorded = request.properties is not None and request.properties.enable_recording is True
        if self.recordings is not None and recorded:
            live.recorder = self.recordings.start(
                runtime, config.engine.replica_id, request.audio_only
            )
        self._live[record.conversation_id] = live
        return live

    # ------------------------------------------------------------------ fencing

    async def fence(self, flush_within: float) -> list[str]:
        """This node lost the cluster (its heartbeat lease ran out, server/fencing.py):
        another node may take its conversations over at any moment. Stop every live one
        here without ending it: the runtime halts (no `system.shutdown`, no end stored,
        no webhook), its participants are closed with `MOVED` to reconnect by
        `last_seq`, and what it had already broadcast is stored within `flush_within`
        seconds (then given up); timers are cancelled and no conversation
        starts or joins here until `unfence`. Returns the ids stopped."""
        self.fenced = True
        self._fence_signal.set()
        for task in self._absent.values():
            task.cancel()
        self._absent.clear()
        stopped = [cid for cid in self._live if cid not in self._ending]
        await asyncio.gather(*(self._fence_one(cid, flush_within) for cid in stopped))
        return stopped

    def unfence(self) -> None:
        """Back in the cluster (the caller has taken back what is still this node's)."""
        self.fenced = False
        self._fence_signal = asyncio.Event()

    async def wait_fenced(self) -> None:
        """Return when this node fences itself off (at once if it is)."""
        await self._fence_signal.wait()

    async def _fence_one(self, conversation_id: str, flush_within: float) -> None:
        live = self._live.pop(conversation_id)
        for timer in live.timers.values():
            timer.cancel()
        if live.joining is not None:
            live.joining.cancel()
        try:
            await live.runtime.halt()  # as a drain does: it stops where it is
            live.moved.set()  # its participants reconnect (MOVED) to the node going on
            stored = [live.writer.aclose(), *([live.saver.aclose()] if live.saver else [])]
            await asyncio.gather(
                _within(flush_within, asyncio.gather(*stored), "stored", conversation_id),
                *(  # Redis is likely what this node lost: given up on quietly
                    [_within(flush_within, live.publisher.aclose(), None, conversation_id)]
                    if live.publisher is not None
                    else []
                ),
            )
        except Exception:
            log.exception("%s: fencing it off failed", conversation_id)
        finally:
            self._locks.pop(conversation_id, None)

    # ------------------------------------------------------------------ ending

    def _timer(self, conversation_id: str, seconds: float, reason: str) -> asyncio.Task[None]:
        deadline = self._clock.now() + seconds

        async def fire() -> None:
            await self._clock.sleep_until(deadline)
            self._begin_end(conversation_id, reason)

        return asyncio.create_task(fire(), name=f"timer-{reason}-{conversation_id}")

    def _end_on_internal_error(self, conversation_id: str) -> None:
        """The runtime met a bug: end through the normal path (store, webhooks)."""
        self._begin_end(conversation_id, EndReasons.INTERNAL_ERROR)

    def _begin_end(self, conversation_id: str, reason: str) -> asyncio.Task[None]:
        task = self._ending.get(conversation_id)
        if task is None:
            task = asyncio.create_task(self._end(conversation_id, reason))
            self._ending[conversation_id] = task
        return task

    async def _end(self, conversation_id: str, reason: str) -> None:
        try:
            absent = self._absent.pop(conversation_id, None)
            if absent is not None:
                absent.cancel()
            live = self._live.get(conversation_id)
            if live is None:
                if not await self._hosted_elsewhere(conversation_id):
                    await self._finisher.end_unstarted(conversation_id, reason)
                return
            if not live.ending:
                live.move(Phase.ENDING)
            current = asyncio.current_task()
            for timer in live.timers.values():
                if timer is not current:
                    timer.cancel()
            if live.joining is not None:  # let a pending join finish first
                with suppress(Exception):
                    await live.joining
            await live.runtime.shutdown(reason)
            if live.saver is not None:
                await live.saver.aclose()
            if live.publisher is not None:
                await live.publisher.aclose()
            await live.writer.aclose()
            await self._finisher.ended(live.record, reason)
            if live.recorder is not None and self.recordings is not None:
                duration = await self.recordings.finish(live.runtime, live.recorder)
                if duration is not None:
                    self._finisher.recording_ready(live.record, duration)
            del self._live[conversation_id]
        except Exception:
            log.exception("%s: ending the conversation failed", conversation_id)
        finally:
            self._ending.pop(conversation_id, None)
            self._locks.pop(conversation_id, None)
