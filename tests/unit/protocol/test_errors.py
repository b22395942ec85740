"""One test per SPEC §2.3 error code; each message names what was wrong."""

from __future__ import annotations

import pytest

from openreplica import protocol as p
from openreplica.protocol import ErrorCode


def _error(data: bytes | str, **kwargs: object) -> p.ProtocolError:
    with pytest.raises(p.ProtocolError) as info:
        p.decode_interaction(data, **kwargs)  # type: ignore[arg-type]
    return info.value


@pytest.mark.parametrize("data", [b"{", b"hello", b"\xff\xfe", b"", b'{"a": }'])
def test_invalid_json(data: bytes) -> None:
    error = _error(data)
    assert error.code is ErrorCode.INVALID_JSON
    assert "not valid JSON" in error.message


@pytest.mark.parametrize(
    "data",
    [
        b'{"event_type": "conversation.echo", "properties": {"text": "x", "k": '
        + b"[" * 1000
        + b"]" * 1000
        + b"}}",
        b'{"event_type": "conversation.echo", "x": ' + b'{"a":' * 3000 + b"1" + b"}" * 3000 + b"}",
    ],
)
def test_deep_nesting_is_invalid_json(data: bytes) -> None:
    with pytest.raises(p.ProtocolError) as info:
        p.decode_interaction(data)
    assert info.value.code is p.ErrorCode.INVALID_JSON
    assert "nested too deeply" in info.value.message


def test_invalid_utf8_anywhere_is_invalid_json() -> None:
    data = b'{"event_type": "conversation.interrupt", "unknown": "\xff\xfe"}'
    with pytest.raises(p.ProtocolError) as info:
        p.decode_interaction(data)
    assert info.value.code is p.ErrorCode.INVALID_JSON
    assert "UTF-8" in info.value.message


@pytest.mark.parametrize("data", [b"[1, 2]", b'"text"', b"42", b"null"])
def test_not_an_object_is_invalid_json(data: bytes) -> None:
    error = _error(data)
    assert error.code is ErrorCode.INVALID_JSON
    assert "must be a JSON object" in error.message


def test_unknown_event_type_names_it_and_lists_the_valid_ones() -> None:
    error = _error(b'{"event_type": "conversation.dance", "properties": {}}')
    assert error.code is ErrorCode.UNKNOWN_EVENT_TYPE
    assert error.event_type == "conversation.dance"
    assert "'conversation.dance'" in error.message
    assert "conversation.respond" in error.message


def test_missing_event_type() -> None:
    error = _error(b'{"properties": {"text": "hi"}}')
    assert error.code is ErrorCode.UNKNOWN_EVENT_TYPE
    assert "no `event_type`" in error.message


def test_event_type_of_an_event_is_explained() -> None:
    error = _error(b'{"event_type": "conversation.utterance", "properties": {}}')
    assert error.code is ErrorCode.UNKNOWN_EVENT_TYPE
    assert "event the replica sends" in error.message


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b'{"event_type": "conversation.respond"}', "`properties` is required"),
        (b'{"event_type": "conversation.respond", "properties": {}}', "`properties.text`"),
        (b'{"event_type": "conversation.respond", "properties": {"text": 5}}', "expected `str`"),
        (b'{"event_type": "conversation.respond", "properties": {"text": "  "}}', "non-empty"),
        (b'{"event_type": "conversation.echo", "properties": {"modality": "audio"}}', "audio"),
        (
            b'{"event_type": "conversation.echo",'
            b' "properties": {"modality": "video", "text": "x"}}',
            "`properties.modality`",
        ),
        (
            b'{"event_type": "conversation.echo", "properties": {"text": "x", "done": "maybe"}}',
            "`properties.done`",
        ),
        (b'{"event_type": "conversation.sensitivity", "properties": {}}', "participant_pause"),
        (
            b'{"event_type": "conversation.sensitivity",'
            b' "properties": {"participant_pause_sensitivity": "extreme"}}',
            "`properties.participant_pause_sensitivity`",
        ),
        (
            b'{"event_type": "conversation.tool_result", "properties": {"output": "x"}}',
            "`properties.tool_call_id`",
        ),
        (
            b'{"event_type": "conversation.overwrite_llm_context", "properties": {}}',
            "`properties.context` is required",
        ),
        (b'{"event_type": "system.resume", "properties": {"last_seq": -1}}', ">= 0"),
    ],
)
def test_invalid_properties_name_the_field(data: bytes, fragment: str) -> None:
    error = _error(data)
    assert error.code is ErrorCode.INVALID_PROPERTIES
    assert fragment.lower() in error.message.lower()
    assert error.event_type is not None


def test_base64_audio_is_checked() -> None:
    bad = _error(
        b'{"event_type": "conversation.echo", "properties": {"modality": "audio", "audio": "@@"}}'
    )
    assert bad.code is ErrorCode.INVALID_PROPERTIES
    assert "base64" in bad.message
    odd = _error(  # "AAA=" decodes to 2 bytes... "AAAA" decodes to 3: not whole samples
        b'{"event_type": "conversation.echo", "properties": {"modality": "audio", "audio": "AAAA"}}'
    )
    assert odd.code is ErrorCode.INVALID_PROPERTIES
    assert "16-bit" in odd.message


def test_wrong_conversation() -> None:
    error = _error(
        b'{"event_type": "conversation.interrupt", "conversation_id": "other"}',
        conversation_id="mine",
    )
    assert error.code is ErrorCode.WRONG_CONVERSATION
    assert "'other'" in error.message and "'mine'" in error.message


def test_missing_conversation_id_means_this_connection() -> None:
    message = p.decode_interaction(b'{"event_type": "conversation.interrupt"}', conversation_id="m")
    assert isinstance(message, p.Interrupt)
    assert message.conversation_id is None


def test_message_too_large() -> None:
    big = b'{"event_type": "conversation.respond", "properties": {"text": "' + b"a" * 2000 + b'"}}'
    error = _error(big, max_bytes=1000)
    assert error.code is ErrorCode.MESSAGE_TOO_LARGE
    assert "limit is 1000 bytes" in error.message


def test_default_limit_is_one_mebibyte() -> None:
    assert p.DEFAULT_MAX_MESSAGE_BYTES == 1 << 20
