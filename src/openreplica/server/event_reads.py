"""A conversation's events as every node sees them: what is stored, then what only its
cluster event stream has yet.

The node hosting a conversation writes its events to the database in batches
(server/event_writer.py), so the newest ones reach the database up to a batch after
they were broadcast; it appends each to the conversation's event stream first
(cluster/events.py). A node that does not host the conversation (a REST read, a relay's
replay) therefore reads the database and then the stream after the newest stored
`seq`: each event once, in `seq` order, whichever node answers. The stream is read
after the database, so it holds at least what the database had: nothing falls in
between. Without a stream (one process on its own) the database is all there is, and
the host has stored everything once it flushed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from openreplica.cluster import EventStreams
from openreplica.protocol import decode_event
from openreplica.server.store import EventRecord, Store

log = logging.getLogger(__name__)

__all__ = ["merged", "read_events"]


def merged(
    conversation_id: str, stored: Sequence[EventRecord], streamed: Sequence[tuple[int, bytes]]
) -> list[EventRecord]:
    """`stored` (in `seq` order), then the `streamed` events above the newest stored."""
    newest = stored[-1].seq if stored else 0
    out = list(stored)
    for seq, data in streamed:
        if seq <= newest:
            continue
        event = decode_event(data)
        timestamp = event.timestamp or 0.0
        out.append(EventRecord(conversation_id, seq, event.event_type, timestamp, data))
        newest = seq
    return out


async def read_events(
    store: Store, streams: EventStreams | None, conversation_id: str, after_seq: int = 0
) -> list[EventRecord]:
    """Every event of the conversation with `seq` > `after_seq` that is stored or in its
    event stream. The stream unreachable: what is stored (logged)."""
    stored = await store.load_events(conversation_id, after_seq)
    if streams is None:
        return stored
    newest = stored[-1].seq if stored else after_seq
    try:
        streamed = await streams.read(conversation_id, newest)
    except Exception as exc:
        log.warning("%s: events read without the event stream (%s)", conversation_id, exc)
        return stored
    return merged(conversation_id, stored, streamed)
