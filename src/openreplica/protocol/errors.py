"""Protocol error codes (SPEC §1.2 `system.error`, §2.3), the typed error, and the one
builder of `system.error` events.

A protocol error is *remote*: the peer sent something we cannot accept. It is answered
with one `system.error` to the sender and changes nothing else.
"""

from __future__ import annotations

from enum import StrEnum

from openreplica.protocol.events import ErrorEvent, ErrorProps


class ErrorCode(StrEnum):
    """Stable `system.error` codes. Values never change once published."""

    INVALID_JSON = "invalid_json"
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    INVALID_PROPERTIES = "invalid_properties"
    WRONG_CONVERSATION = "wrong_conversation"
    MESSAGE_TOO_LARGE = "message_too_large"
    RATE_LIMITED = "rate_limited"
    NOT_ALLOWED_IN_MODE = "not_allowed_in_mode"
    # Echoed audio arriving faster than it can be played: more than the server's bound
    # (`--max-echo-audio-ahead`) would wait ahead of playout. The chunk is dropped.
    AUDIO_BUFFER_FULL = "audio_buffer_full"
    # Plugin failures (DESIGN "Errors"): the conversation keeps listening.
    LLM_UNAVAILABLE = "llm_unavailable"
    TTS_UNAVAILABLE = "tts_unavailable"
    ASR_UNAVAILABLE = "asr_unavailable"
    PERCEPTION_UNAVAILABLE = "perception_unavailable"
    #: a call asked to be recorded cannot be (disk budget or free space); the call goes on
    RECORDING_UNAVAILABLE = "recording_unavailable"
    REPLAY_UNAVAILABLE = "replay_unavailable"
    #: a server bug met while handling one message; the message is dropped, the
    #: connection and the conversation go on
    INTERNAL_ERROR = "internal_error"
    #: the conversation is moving to another cluster node (this one drains or fenced
    #: itself off): the message was not handled; the connection is about to close with
    #: 1012: reconnect with `last_seq` and send it again
    CONVERSATION_MOVING = "conversation_moving"


class ProtocolError(Exception):
    """A message the server (or client) cannot accept.

    `event_type` names the rejected interaction when it could be read.
    """

    def __init__(self, code: ErrorCode, message: str, event_type: str | None = None) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message
        self.event_type = event_type

    def __repr__(self) -> str:
        return f"ProtocolError({self.code.value!r}, {self.message!r}, {self.event_type!r})"


def error_event(
    conversation_id: str,
    code: ErrorCode,
    message: str,
    *,
    timestamp: float,
    event_type: str | None = None,
) -> ErrorEvent:
    """A `system.error` (never sequenced): `event_type` names the interaction refused."""
    return ErrorEvent(
        conversation_id=conversation_id,
        timestamp=timestamp,
        properties=ErrorProps(code=code.value, message=message, event_type=event_type),
    )
