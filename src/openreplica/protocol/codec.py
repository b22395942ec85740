"""Bytes ⇄ typed messages.

`decode_interaction` is the server's door: it returns a typed interaction or raises a
`ProtocolError` carrying the SPEC §2.3 code and a message that names the offending field.
It never raises anything else, whatever the bytes (property-tested).
`decode_event` is the client's door: unknown event types come back as `UnknownEvent`
and unknown keys are ignored, so an older client survives a newer server.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from openreplica.protocol.errors import ErrorCode, ProtocolError
from openreplica.protocol.events import (
    EVENT_TYPES,
    AnyEvent,
    Event,
    UnknownEvent,
    event_type_of,
)
from openreplica.protocol.interactions import INTERACTION_TYPES, AnyInteraction, Interaction

DEFAULT_MAX_MESSAGE_BYTES = 1 << 20

INTERACTION_NAMES: tuple[str, ...] = tuple(event_type_of(c) for c in INTERACTION_TYPES)
EVENT_NAMES: frozenset[str] = frozenset(event_type_of(c) for c in EVENT_TYPES)

_interaction_decoder: msgspec.json.Decoder[AnyInteraction] = msgspec.json.Decoder(AnyInteraction)
_event_decoder: msgspec.json.Decoder[AnyEvent] = msgspec.json.Decoder(AnyEvent)
_encoder = msgspec.json.Encoder()
_prefixes = {
    mt: b'{"message_type":' + _encoder.encode(mt) + b"," for mt in ("conversation", "system")
}
# msgspec's messages end with " - at `$.path`" when it knows where the fault is.
_AT_PATH = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_MISSING = re.compile(r"^Object missing required field `([^`]*)`$")


def decode_interaction(
    data: bytes | str,
    *,
    conversation_id: str | None = None,
    max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> AnyInteraction:
    """Decode and validate one interaction.

    `conversation_id` is the connection's conversation: an interaction naming another one
    is refused with `wrong_conversation`; one naming none is taken to mean this one.
    """
    if len(data) > max_bytes:
        raise ProtocolError(
            ErrorCode.MESSAGE_TOO_LARGE,
            f"message is {len(data)} bytes; the limit is {max_bytes} bytes",
        )
    if isinstance(data, bytes) and not _is_utf8(data):
        # JSON is UTF-8; the typed decoder would skip bad bytes in unknown keys.
        raise ProtocolError(ErrorCode.INVALID_JSON, "message is not valid JSON (not UTF-8)")
    try:
        message = _interaction_decoder.decode(data)
    except msgspec.ValidationError as exc:
        raise _classify_validation_error(data, str(exc)) from None
    except msgspec.DecodeError as exc:
        raise ProtocolError(ErrorCode.INVALID_JSON, f"message is not valid JSON ({exc})") from None
    except RecursionError:  # the decoder recurses per level: a few KiB of brackets
        raise ProtocolError(ErrorCode.INVALID_JSON, "message is nested too deeply") from None
    if (
        conversation_id is not None
        and message.conversation_id is not None
        and message.conversation_id != conversation_id
    ):
        raise ProtocolError(
            ErrorCode.WRONG_CONVERSATION,
            f"conversation_id {message.conversation_id!r} does not match this connection's "
            f"conversation {conversation_id!r}",
            event_type_of(type(message)),
        )
    return message


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


def _split(text: str) -> tuple[str, str]:
    match = _AT_PATH.match(text)
    return (match["what"], match["path"] or "") if match else (text, "")


def _classify_validation_error(data: bytes | str, text: str) -> ProtocolError:
    what, path = _split(text)
    if not path and what.startswith("Expected `object`"):
        got = what.split("got ", 1)[-1].strip("`")
        return ProtocolError(ErrorCode.INVALID_JSON, f"message must be a JSON object, got {got}")
    event_type = _peek_event_type(data)
    if not path and "`event_type`" in what:
        return ProtocolError(
            ErrorCode.UNKNOWN_EVENT_TYPE,
            "message has no `event_type`; expected one of " + ", ".join(INTERACTION_NAMES),
        )
    if path == ".event_type":
        if event_type in EVENT_NAMES:
            detail = f"{event_type!r} is an event the replica sends, not an interaction"
        elif event_type is None:
            detail = "`event_type` must be a string"
        else:
            detail = f"unknown event_type {event_type!r}"
        return ProtocolError(
            ErrorCode.UNKNOWN_EVENT_TYPE,
            f"{detail}; expected one of " + ", ".join(INTERACTION_NAMES),
            event_type,
        )
    return ProtocolError(ErrorCode.INVALID_PROPERTIES, _describe(what, path), event_type)


def _describe(what: str, path: str) -> str:
    """Turn msgspec's wording into one sentence naming the field and what was expected."""
    missing = _MISSING.match(what)
    if missing:
        return f"`{(path + '.' + missing[1]).lstrip('.')}` is required"
    if what.startswith("`"):  # our own __post_init__ messages already name the field
        return what
    where = f"`{path.lstrip('.')}`" if path else "message"
    # "Expected `str | null`, got `int`" reads better without the internal `| null`.
    return f"invalid {where}: {what.replace(' | null', '')}"


def _peek_event_type(data: bytes | str) -> str | None:
    """Best-effort read of `event_type` for error replies (slow path only)."""
    try:
        raw = msgspec.json.decode(data)
    except (msgspec.DecodeError, RecursionError):
        return None
    value = raw.get("event_type") if isinstance(raw, dict) else None
    return value if isinstance(value, str) else None


def encode(message: Event | Interaction) -> bytes:
    """Encode an event or interaction with exactly the SPEC's keys."""
    body = _encoder.encode(message)
    return _prefixes[message.MESSAGE_TYPE] + body[1:]


def decode_event(data: bytes | str) -> AnyEvent | UnknownEvent:
    """Decode an event as a client does, tolerating types and keys it does not know."""
    try:
        return _event_decoder.decode(data)
    except msgspec.ValidationError as exc:
        raw = _decode_object(data)
        event_type = raw.get("event_type")
        if isinstance(event_type, str) and event_type not in EVENT_NAMES:
            return _unknown_event(raw, event_type)
        known = event_type if isinstance(event_type, str) else None
        raise ProtocolError(
            ErrorCode.INVALID_PROPERTIES, "invalid event: " + _describe(*_split(str(exc))), known
        ) from None
    except msgspec.DecodeError as exc:
        raise ProtocolError(ErrorCode.INVALID_JSON, f"event is not valid JSON ({exc})") from None


def _decode_object(data: bytes | str) -> dict[str, Any]:
    raw = msgspec.json.decode(data)
    if not isinstance(raw, dict):
        raise ProtocolError(ErrorCode.INVALID_JSON, "event must be a JSON object")
    return raw


def _unknown_event(raw: dict[str, Any], event_type: str) -> UnknownEvent:
    def field(name: str, *kinds: type) -> Any:
        value = raw.get(name)
        return value if isinstance(value, kinds) and not isinstance(value, bool) else None

    message_type = raw.get("message_type")
    return UnknownEvent(
        event_type=event_type,
        message_type=message_type if isinstance(message_type, str) else "conversation",
        raw=raw,
        conversation_id=field("conversation_id", str),
        seq=field("seq", int),
        timestamp=field("timestamp", int, float),
        turn_idx=field("turn_idx", int),
        inference_id=field("inference_id", str),
    )
