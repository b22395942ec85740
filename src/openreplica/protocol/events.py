"""Events: the messages the replica broadcasts (SPEC §1.2).

Every event is a msgspec Struct tagged by `event_type`. The envelope fields `seq` and
`timestamp` are left unset by whoever creates an event and stamped by the `Sequencer`;
`turn_idx` and `inference_id` are set by the engine, which knows what caused the event.
Unset optional fields are omitted on the wire, never sent as `null`.
Events with no properties have no `properties` field (SPEC: "may be absent when empty").
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, get_args

import msgspec

from openreplica.protocol.interactions import Props

Role = Literal["user", "replica"]


class Event(msgspec.Struct, tag_field="event_type", omit_defaults=True, kw_only=True):
    """Base of every replica → client message."""

    MESSAGE_TYPE: ClassVar[str] = "conversation"
    #: True for events that belong to a turn and so carry `turn_idx` (SPEC §3 rule 3)
    TURN_RELATED: ClassVar[bool] = True

    conversation_id: str
    seq: int | None = None
    timestamp: float | None = None
    turn_idx: int | None = None
    inference_id: str | None = None

    @property
    def event_type(self) -> str:
        return event_type_of(type(self))


class SystemEvent(Event):
    MESSAGE_TYPE: ClassVar[str] = "system"
    TURN_RELATED: ClassVar[bool] = False


# ----------------------------------------------------------------------- properties


class ReplicaJoinedProps(Props):
    replica_id: str


class ReplicaStoppedProps(Props):
    duration: float
    interrupted: bool


class RoleProps(Props):
    role: Role


class StoppedProps(Props):
    role: Role
    interrupted: bool
    duration: float


class UtteranceProps(Props):
    role: Role
    speech: str
    # [ours, issue 8] what perception saw when the user's turn was committed
    visual_context: str | None = None
    # [added] what perception saw (one or two sentences), and how the turn sounded
    user_visual_analysis: str | None = None
    user_audio_analysis: str | None = None
    # [ours, issue 17] on spoken user turns: what ended the turn ("model": the end-of-turn
    # model called it complete; "silence": a silence timer) and the seconds from the end
    # of the user's speech to the commit
    turn_decided_by: Literal["model", "silence"] | None = None
    turn_wait: float | None = None


class StreamingProps(Props):
    role: Role
    speech: str
    content_index: int
    final: bool
    is_interrupted: bool | None = None


class ToolCallProps(Props):
    name: str
    arguments: str
    tool_call_id: str


class Frame(msgspec.Struct):
    data: str
    mime_type: str = "image/jpeg"


class PerceptionToolCallProps(Props):
    modality: Literal["vision", "audio"]
    name: str
    arguments: dict[str, Any] | str
    frames: list[Frame] | None = None


class AnalysisProps(Props):
    analysis: str


class ShutdownProps(Props):
    shutdown_reason: str


class ErrorProps(Props):
    code: str
    message: str
    event_type: str | None = None


# ----------------------------------------------------------------------- events


class ReplicaJoined(SystemEvent, tag="system.replica_joined"):
    properties: ReplicaJoinedProps


class ReplicaPresent(SystemEvent, tag="system.replica_present"):
    """[added] A heartbeat while the replica is in the call; never part of a transcript."""

    properties: ReplicaJoinedProps


class UserStartedSpeaking(Event, tag="conversation.user.started_speaking"):
    pass


class UserStoppedSpeaking(Event, tag="conversation.user.stopped_speaking"):
    pass


class ReplicaStartedSpeaking(Event, tag="conversation.replica.started_speaking"):
    pass


class ReplicaStoppedSpeaking(Event, tag="conversation.replica.stopped_speaking"):
    properties: ReplicaStoppedProps


class StartedSpeaking(Event, tag="conversation.started_speaking"):
    properties: RoleProps


class StoppedSpeaking(Event, tag="conversation.stopped_speaking"):
    properties: StoppedProps


class Utterance(Event, tag="conversation.utterance"):
    properties: UtteranceProps


class UtteranceStreaming(Event, tag="conversation.utterance.streaming"):
    properties: StreamingProps


class ToolCall(Event, tag="conversation.tool_call"):
    properties: ToolCallProps


class PerceptionToolCall(Event, tag="conversation.perception_tool_call"):
    properties: PerceptionToolCallProps


class PerceptionAnalysis(Event, tag="conversation.perception_analysis"):
    TURN_RELATED: ClassVar[bool] = False
    properties: AnalysisProps


class ReplicaInterrupted(Event, tag="conversation.replica_interrupted"):
    pass


class Shutdown(SystemEvent, tag="system.shutdown"):
    properties: ShutdownProps


class ErrorEvent(SystemEvent, tag="system.error"):
    """Reply to one sender only; never sequenced (it has no `seq`)."""

    properties: ErrorProps


class UnknownEvent(msgspec.Struct, omit_defaults=True, kw_only=True):
    """An event type this version does not know, kept whole so it can be passed on."""

    event_type: str
    message_type: str
    raw: dict[str, Any]
    conversation_id: str | None = None
    seq: int | None = None
    timestamp: float | None = None
    turn_idx: int | None = None
    inference_id: str | None = None


AnyEvent = (
    ReplicaJoined
    | ReplicaPresent
    | UserStartedSpeaking
    | UserStoppedSpeaking
    | ReplicaStartedSpeaking
    | ReplicaStoppedSpeaking
    | StartedSpeaking
    | StoppedSpeaking
    | Utterance
    | UtteranceStreaming
    | ToolCall
    | PerceptionToolCall
    | PerceptionAnalysis
    | ReplicaInterrupted
    | Shutdown
    | ErrorEvent
)

EVENT_TYPES: tuple[type[Event], ...] = get_args(AnyEvent)


def event_type_of(cls: type[msgspec.Struct]) -> str:
    """The `event_type` tag of a message class."""
    tag = cls.__struct_config__.tag
    if not isinstance(tag, str):
        raise TypeError(f"{cls.__name__} has no event_type tag")
    return tag
