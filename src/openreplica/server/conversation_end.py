"""What happens around a conversation's end: the stored status, the webhooks, and the
conversations a previous process left `active` (SPEC §5, §6).

Webhooks of a conversation go out in this order: `system.replica_joined` (when the
replica joins), `application.perception_analysis` (when perception is on; its event
comes just before `system.shutdown`), `system.shutdown`, then
`application.transcription_ready` with the transcript built from the stored events.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from openreplica.protocol import (
    Event,
    PerceptionAnalysis,
    ReplicaJoined,
    Sequencer,
    Shutdown,
    ShutdownProps,
    decode_event,
    encode,
)
from openreplica.protocol.transcript import build_transcript
from openreplica.runtime import INTERNAL_ERROR, Clock, Listener
from openreplica.server.store import ConversationRecord, EventRecord, Store
from openreplica.server.webhooks import WebhookSender

log = logging.getLogger(__name__)

__all__ = ["EndReasons", "Finisher", "transcript_of"]


class EndReasons:
    """`shutdown_reason` values (SPEC §1.2 names the first four)."""

    ENDPOINT = "end_conversation_endpoint_hit"
    MAX_DURATION = "max_call_duration reached"
    LEFT = "participant_left_timeout reached"
    ABSENT = "participant_absent_timeout reached"
    DELETED = "conversation_deleted"
    SERVER_SHUTDOWN = "server_shutdown"
    SERVER_RESTARTED = "server_restarted"
    #: a bug in the conversation's runtime (runtime/guard.py)
    INTERNAL_ERROR = INTERNAL_ERROR
    #: the cluster node hosting it died and it could not be taken over (SPEC §1.2)
    NODE_FAILED = "node_failed"


def transcript_of(events: list[EventRecord]) -> list[dict[str, Any]]:
    decoded = [decode_event(e.data) for e in events]
    return [
        {
            "role": t.role,
            "content": t.content,
            "timestamp": t.timestamp,
            "seconds_from_start": t.seconds_from_start,
            "duration": t.duration,
            "inference_id": t.inference_id,
        }
        for t in build_transcript(decoded)
    ]


class Finisher:
    def __init__(
        self,
        store: Store,
        webhooks: WebhookSender,
        clock: Clock,
        base_url: str = "",
        on_ended: Callable[[ConversationRecord], Awaitable[None]] | None = None,
    ) -> None:
        """`base_url` is the server's public base URL (for `recording_url`); `on_ended`
        hears of every conversation stored as ended here (the cluster uncounts it from
        its node)."""
        self._store = store
        self._webhooks = webhooks
        self._clock = clock
        self._base_url = base_url
        self.on_ended = on_ended

    def webhook_listener(self, record: ConversationRecord) -> Listener:
        """A runtime listener that sends the `system.*` webhooks of a live conversation."""
        url = record.callback_url
        cid = record.conversation_id

        def on_event(event: Event, _data: bytes) -> None:
            if url is None:
                return
            if isinstance(event, ReplicaJoined):
                props = {"replica_id": event.properties.replica_id}
                self._webhooks.send(cid, url, "system.replica_joined", props)
            elif isinstance(event, PerceptionAnalysis):  # just before system.shutdown
                props = {"analysis": event.properties.analysis}
                self._webhooks.send(cid, url, "application.perception_analysis", props)
            elif isinstance(event, Shutdown):
                props = {"shutdown_reason": event.properties.shutdown_reason}
                self._webhooks.send(cid, url, "system.shutdown", props)

        return on_event

    async def ended(self, record: ConversationRecord, reason: str) -> None:
        """A live conversation shut down and its events are stored."""
        await self._store.mark_ended(record.conversation_id, reason, self._clock.now())
        await self._notify_ended(record)
        await self._send_transcript(record)

    def recording_ready(self, record: ConversationRecord, duration: float) -> None:
        """`application.recording_ready` (after the transcript), when there is a callback."""
        if record.callback_url:
            props = {
                "recording_url": f"{self._base_url}/v2/conversations/"
                f"{record.conversation_id}/recording",
                "duration": round(duration, 3),
            }
            self._webhooks.send(
                record.conversation_id, record.callback_url, "application.recording_ready", props
            )

    async def end_unstarted(self, conversation_id: str, reason: str) -> None:
        """End a conversation with no runtime in this process: nobody joined yet, or a
        previous process stopped while it was live. Its `system.shutdown` follows the
        stored events."""
        record = await self._store.get_conversation(conversation_id)
        if record is None or record.status != "active":
            return
        last_seq, last_timestamp = await self._store.last_event(conversation_id)
        sequencer = Sequencer(conversation_id, last_seq=last_seq, last_timestamp=last_timestamp)
        shutdown = sequencer.stamp(
            Shutdown(conversation_id=conversation_id, properties=ShutdownProps(reason)),
            self._clock.now(),
        )
        await self._store.add_events(
            [
                EventRecord(
                    conversation_id,
                    shutdown.seq or 0,
                    shutdown.event_type,
                    shutdown.timestamp or 0.0,
                    encode(shutdown),
                )
            ]
        )
        await self._store.mark_ended(conversation_id, reason, self._clock.now())
        await self._notify_ended(record)
        if record.callback_url:
            self._webhooks.send(
                conversation_id,
                record.callback_url,
                "system.shutdown",
                {"shutdown_reason": reason},
            )
        await self._send_transcript(record)

    async def recover(self, node_id: str | None = None) -> list[str]:
        """Mark every conversation a previous process left `active` as ended (in a
        cluster, only those it hosted as `node_id`)."""
        ids = await self._store.active_conversation_ids(node_id)
        for conversation_id in ids:
            log.info("%s: was live when the server stopped; marking it ended", conversation_id)
            await self.end_unstarted(conversation_id, EndReasons.SERVER_RESTARTED)
        return ids

    async def _notify_ended(self, record: ConversationRecord) -> None:
        if self.on_ended is not None:
            try:
                await self.on_ended(record)
            except Exception:
                log.exception("%s: on_ended failed", record.conversation_id)

    async def _send_transcript(self, record: ConversationRecord) -> None:
        if not record.callback_url:
            return
        events = await self._store.load_events(record.conversation_id)
        self._webhooks.send(
            record.conversation_id,
            record.callback_url,
            "application.transcription_ready",
            {"transcript": transcript_of(events)},
        )
