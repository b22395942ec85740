"""The transcript builder: pure, from events in seq order."""

from __future__ import annotations

from openreplica import protocol as p
from openreplica.protocol.transcript import TranscriptEntry, build_transcript

C = "c1"


def _joined(t: float) -> p.Event:
    return p.ReplicaJoined(
        conversation_id=C, seq=1, timestamp=t, properties=p.ReplicaJoinedProps(replica_id="r")
    )


def _started(inf: str, t: float) -> p.Event:
    return p.ReplicaStartedSpeaking(conversation_id=C, inference_id=inf, timestamp=t, turn_idx=0)


def _stream(inf: str, t: float, speech: str, i: int, final: bool, cut: bool = False) -> p.Event:
    props = p.StreamingProps(
        role="replica",
        speech=speech,
        content_index=i,
        final=final,
        is_interrupted=True if cut else None,
    )
    return p.UtteranceStreaming(conversation_id=C, inference_id=inf, timestamp=t, properties=props)


def _utterance(role: p.Role, speech: str, t: float, inf: str | None = None) -> p.Event:
    return p.Utterance(
        conversation_id=C,
        inference_id=inf,
        timestamp=t,
        properties=p.UtteranceProps(role=role, speech=speech),
    )


def _stopped(inf: str, t: float, duration: float, cut: bool = False) -> p.Event:
    return p.ReplicaStoppedSpeaking(
        conversation_id=C,
        inference_id=inf,
        timestamp=t,
        properties=p.ReplicaStoppedProps(duration=duration, interrupted=cut),
    )


def test_a_greeting_a_typed_turn_and_a_cut_off_reply() -> None:
    events = [
        _joined(100.0),
        _started("g", 100.1),
        _utterance("replica", "Hello there.", 100.1, "g"),
        _stream("g", 100.5, "Hello", 0, False),
        _stream("g", 100.9, "Hello there.", 1, True),
        _stopped("g", 100.9, 0.8),
        _utterance("user", "Tell me a story", 102.0),
        _started("r1", 102.5),
        _stream("r1", 102.8, "Once", 0, False),
        _utterance("replica", "Once upon a time there was", 102.9, "r1"),
        _stream("r1", 103.0, "Once upon", 1, True, cut=True),
        _stopped("r1", 103.0, 0.5, cut=True),
    ]
    assert build_transcript(events) == [
        TranscriptEntry(
            role="replica",
            content="Hello there.",
            timestamp=100.1,
            seconds_from_start=0.1,
            duration=0.8,
            inference_id="g",
        ),
        TranscriptEntry(
            role="user",
            content="Tell me a story",
            timestamp=102.0,
            seconds_from_start=2.0,
            duration=0.0,
        ),
        TranscriptEntry(
            role="replica",
            content="Once upon",  # only the words that were played
            timestamp=102.5,
            seconds_from_start=2.5,
            duration=0.5,
            inference_id="r1",
        ),
    ]


def test_spoken_user_turns_carry_how_long_the_user_spoke() -> None:
    events = [
        _joined(10.0),
        p.UserStartedSpeaking(conversation_id=C, timestamp=11.0),
        p.UserStoppedSpeaking(conversation_id=C, timestamp=12.5),
        _utterance("user", "hi", 12.9),
    ]
    (entry,) = build_transcript(events)
    assert (entry.role, entry.content, entry.duration, entry.inference_id) == (
        "user",
        "hi",
        1.5,
        None,
    )


def test_unknown_and_unrelated_events_are_ignored_and_silence_is_left_out() -> None:
    unknown = p.UnknownEvent(event_type="x.new", message_type="conversation", raw={})
    events: list[p.Event | p.UnknownEvent] = [
        _joined(1.0),
        unknown,
        _started("a", 2.0),
        _stopped("a", 2.0, 0.0, cut=True),
        p.Shutdown(conversation_id=C, timestamp=3.0, properties=p.ShutdownProps("bye")),
    ]
    assert build_transcript(events) == []
    assert build_transcript([]) == []


def test_entries_round_trip_through_json_with_every_key() -> None:
    import msgspec

    (entry,) = build_transcript([_joined(0.0), _utterance("user", "hey", 1.0)])
    assert msgspec.json.decode(msgspec.json.encode(entry)) == {
        "role": "user",
        "content": "hey",
        "timestamp": 1.0,
        "seconds_from_start": 1.0,
        "duration": 0.0,
        "inference_id": None,
    }
