"""One live conversation's lifecycle on this node, as a table (the hub's bookkeeping).

A conversation is `active` in the store from creation; it is *live* here once the hub
has built its runtime. Its phase then only moves forward, along this table:

    OPEN     the runtime is built, the replica has not joined   -> JOINING, ENDING
    JOINING  `runtime.start()` runs (`system.replica_joined`)    -> JOINED, ENDING
    JOINED   the replica is in the call                          -> ENDING, MOVING
    MOVING   stopped here to go on on another cluster node (the
             node drains); nobody may join here                  -> ENDING
    ENDING   `system.shutdown` is on its way; nobody may join    -> (none)

Rules: `ConversationHub.start` is the only way from OPEN to JOINING (nothing starts a
conversation as a side effect), but for `ConversationHub.adopt`, which goes on with a
conversation a dead cluster node had joined (through JOINING to JOINED at once);
`ConversationHub.end` is the only way to ENDING and is allowed from every phase;
`ConversationHub.halt` is the only way to MOVING (its runtime stops without an end and
another node adopts it; when none can, it ends from there); a move the table does not
list is a bug and raises.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import Enum

from openreplica.runtime import ConversationRuntime
from openreplica.server.event_stream import StreamPublisher
from openreplica.server.event_writer import EventWriter
from openreplica.server.recordings import CallRecorder
from openreplica.server.schemas import ConversationCreate, PersonaCreate
from openreplica.server.store import ConversationRecord
from openreplica.server.takeover import StateSaver
from openreplica.transports import TokenBucket

__all__ = ["Live", "Phase", "moved"]


class Phase(Enum):
    OPEN = "open"
    JOINING = "joining"
    JOINED = "joined"
    MOVING = "moving"
    ENDING = "ending"


_NEXT: dict[Phase, frozenset[Phase]] = {
    Phase.OPEN: frozenset({Phase.JOINING, Phase.ENDING}),
    Phase.JOINING: frozenset({Phase.JOINED, Phase.ENDING}),
    Phase.JOINED: frozenset({Phase.ENDING, Phase.MOVING}),
    Phase.MOVING: frozenset({Phase.ENDING}),
    Phase.ENDING: frozenset(),
}


def moved(phase: Phase, to: Phase) -> Phase:
    """`to`, when the table allows the move from `phase`; any other move is a bug."""
    if to not in _NEXT[phase]:
        raise RuntimeError(f"no move from {phase.value} to {to.value}")
    return to


@dataclass
class Live:
    """A conversation live on this node: its record (and typed request), runtime, event
    writer, shared rate limit, timers and recorder (and in a cluster its event stream
    publisher and state saver)."""

    record: ConversationRecord
    #: the creation request and the persona, typed (validated when they were sent)
    request: ConversationCreate
    persona: PersonaCreate
    runtime: ConversationRuntime
    writer: EventWriter
    bucket: TokenBucket
    participants: int = 0
    phase: Phase = Phase.OPEN
    #: `runtime.start()` while JOINING; awaited by every later `start` and by `end`
    joining: asyncio.Task[None] | None = None
    timers: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    recorder: CallRecorder | None = None
    #: in a cluster: the event stream relays read, and the LLM state saved for a takeover
    publisher: StreamPublisher | None = None
    saver: StateSaver | None = None
    #: set when the conversation moved to another cluster node: its participants here
    #: are closed with a code that tells them to reconnect (they resume there)
    moved: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def ending(self) -> bool:
        return self.phase is Phase.ENDING

    @property
    def moving(self) -> bool:
        return self.phase is Phase.MOVING

    def move(self, to: Phase) -> None:
        """Take one step of the table (`moved`)."""
        self.phase = moved(self.phase, to)
