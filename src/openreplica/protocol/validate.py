"""Validation of any message, interaction or event, for `openreplica validate`."""

from __future__ import annotations

from openreplica.protocol.codec import EVENT_NAMES, decode_event, decode_interaction
from openreplica.protocol.errors import ErrorCode, ProtocolError
from openreplica.protocol.events import UnknownEvent, event_type_of


def validate_message(data: bytes | str, *, max_bytes: int) -> str:
    """Return the message's `event_type` if it is a valid message; raise `ProtocolError`.

    Unlike a client, this is strict: an unknown event type is an error.
    """
    try:
        return event_type_of(type(decode_interaction(data, max_bytes=max_bytes)))
    except ProtocolError as error:
        if error.code is not ErrorCode.UNKNOWN_EVENT_TYPE or error.event_type not in EVENT_NAMES:
            raise
    event = decode_event(data)
    if isinstance(event, UnknownEvent):  # pragma: no cover - excluded by EVENT_NAMES above
        raise ProtocolError(ErrorCode.UNKNOWN_EVENT_TYPE, f"unknown event {event.event_type!r}")
    return event_type_of(type(event))
