"""The public protocol's spelling variants are all accepted."""

from __future__ import annotations

import base64

import pytest

from openreplica import protocol as p


def test_overwrite_context_alias() -> None:
    message = p.decode_interaction(
        b'{"event_type": "conversation.overwrite_context", "properties": {"context": "x"}}'
    )
    assert isinstance(message, p.OverwriteContext)
    assert message.properties.value == "x"


def test_append_context_alias_and_text_alias_of_context() -> None:
    message = p.decode_interaction(
        b'{"event_type": "conversation.append_context", "properties": {"text": "y"}}'
    )
    assert isinstance(message, p.AppendContext)
    assert message.properties.value == "y"


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("false", False), (None, None)])
def test_done_as_bool_or_string(raw: str | None, expected: bool | None) -> None:
    for value in [raw] if raw is None else [f'"{raw}"', raw]:
        done = "" if value is None else f', "done": {value}'
        data = '{"event_type": "conversation.echo", "properties": {"text": "hi"' + done + "}}"
        message = p.decode_interaction(data)
        assert isinstance(message, p.Echo)
        assert message.properties.is_done is expected


def test_missing_modality_means_text_and_missing_sample_rate_means_16000() -> None:
    message = p.decode_interaction(
        b'{"event_type": "conversation.echo", "properties": {"text": "a"}}'
    )
    assert isinstance(message, p.Echo)
    assert message.properties.modality == "text"
    assert message.properties.sample_rate == 16000


def test_audio_echo_decodes_its_pcm() -> None:
    pcm = b"\x01\x00\xff\x7f"
    audio = base64.b64encode(pcm).decode()
    data = (
        '{"event_type": "conversation.echo", "properties": {"modality": "audio", "audio": "'
        + audio
        + '", "sample_rate": 24000}}'
    )
    message = p.decode_interaction(data)
    assert isinstance(message, p.Echo)
    assert message.properties.pcm() == pcm
    assert message.properties.sample_rate == 24000


def test_message_type_may_be_absent_and_unknown_keys_are_ignored() -> None:
    message = p.decode_interaction(
        b'{"event_type": "conversation.respond", "properties": {"text": "a", "x": 1}, "extra": 2}'
    )
    assert isinstance(message, p.Respond)


def test_tool_result_output_is_serialised_when_not_a_string() -> None:
    message = p.decode_interaction(
        b'{"event_type": "conversation.tool_result",'
        b' "properties": {"tool_call_id": "c", "output": {"t": 1}}}'
    )
    assert isinstance(message, p.ToolResult)
    assert message.properties.output_text == '{"t":1}'
    assert message.properties.status == "success"


def test_client_tolerates_unknown_events_and_keys() -> None:
    unknown = p.decode_event(
        b'{"message_type": "conversation", "event_type": "conversation.hologram",'
        b' "seq": 9, "turn_idx": 2, "properties": {"beam": true}}'
    )
    assert isinstance(unknown, p.UnknownEvent)
    assert unknown.seq == 9 and unknown.turn_idx == 2
    assert unknown.raw["properties"] == {"beam": True}
    known = p.decode_event(
        b'{"message_type": "conversation", "event_type": "conversation.replica.started_speaking",'
        b' "conversation_id": "c", "seq": 3, "new_key": [1], "properties": {"later": 1}}'
    )
    assert isinstance(known, p.ReplicaStartedSpeaking)
    assert known.seq == 3


@pytest.mark.parametrize("rate", p.ECHO_SAMPLE_RATES)
def test_every_allowed_echo_sample_rate_is_accepted(rate: int) -> None:
    data = (
        '{"event_type": "conversation.echo", "properties": {"modality": "audio", '
        f'"audio": "AAA=", "sample_rate": {rate}}}}}'
    )
    message = p.decode_interaction(data)
    assert isinstance(message, p.Echo)
    assert message.properties.sample_rate == rate


@pytest.mark.parametrize("rate", [1, 7999, 16001, 96000, 192000, 0, -16000, 10**30])
def test_other_echo_sample_rates_are_invalid_properties_naming_the_allowed_set(rate: int) -> None:
    data = (
        '{"event_type": "conversation.echo", "properties": {"modality": "audio", '
        f'"audio": "AAA=", "sample_rate": {rate}}}}}'
    )
    with pytest.raises(p.ProtocolError) as caught:
        p.decode_interaction(data)
    error = caught.value
    assert error.code is p.ErrorCode.INVALID_PROPERTIES
    assert error.event_type == "conversation.echo"
    assert "sample_rate" in error.message
    if abs(rate) < 2**63:  # msgspec refuses a number that large before our check
        assert "8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000" in error.message
