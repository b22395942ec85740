"""Every message type has a hand-written golden fixture; decode then encode is exact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openreplica import protocol as p

FIXTURES = Path(__file__).parents[2] / "fixtures"


def _lines(name: str) -> list[str]:
    return [line for line in (FIXTURES / name).read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("line", _lines("golden_interactions.jsonl"))
def test_interaction_round_trip(line: str) -> None:
    message = p.decode_interaction(line, conversation_id="c123")
    assert json.loads(p.encode(message)) == json.loads(line)


@pytest.mark.parametrize("line", _lines("golden_events.jsonl"))
def test_event_round_trip(line: str) -> None:
    event = p.decode_event(line)
    assert not isinstance(event, p.UnknownEvent)
    assert json.loads(p.encode(event)) == json.loads(line)


def test_every_message_type_has_a_golden_fixture() -> None:
    seen = {json.loads(line)["event_type"] for line in _lines("golden_interactions.jsonl")}
    seen |= {json.loads(line)["event_type"] for line in _lines("golden_events.jsonl")}
    expected = {p.event_type_of(cls) for cls in (*p.INTERACTION_TYPES, *p.EVENT_TYPES)}
    assert expected <= seen


def test_encoding_leaves_out_unset_fields_and_never_writes_null() -> None:
    event = p.Utterance(conversation_id="c1", properties=p.UtteranceProps(role="user", speech="hi"))
    encoded = json.loads(p.encode(event))
    assert encoded == {
        "message_type": "conversation",
        "event_type": "conversation.utterance",
        "conversation_id": "c1",
        "properties": {"role": "user", "speech": "hi"},
    }
    assert b"null" not in p.encode(event)


def test_system_events_carry_system_message_type() -> None:
    event = p.Shutdown(conversation_id="c1", properties=p.ShutdownProps(shutdown_reason="x"))
    assert json.loads(p.encode(event))["message_type"] == "system"
    resume = p.Resume(properties=p.ResumeProps(last_seq=3))
    assert json.loads(p.encode(resume))["message_type"] == "system"
