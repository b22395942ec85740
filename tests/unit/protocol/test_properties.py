"""Property-based tests: the decoder only ever raises its typed error; the sequencer
keeps its ordering promises; replay returns exactly what came after."""

from __future__ import annotations

import itertools
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from openreplica import protocol as p

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
event_types = st.sampled_from([*p.INTERACTION_NAMES, "conversation.utterance", "x", ""])
property_keys = st.sampled_from(
    [
        "text",
        "audio",
        "modality",
        "done",
        "context",
        "sample_rate",
        "tool_call_id",
        "output",
        "last_seq",
        "participant_pause_sensitivity",
        "inference_id",
        "status",
    ]
)
interaction_like = st.fixed_dictionaries(
    {"event_type": event_types},
    optional={
        "message_type": st.sampled_from(["conversation", "system", 3]),
        "conversation_id": st.one_of(st.just("c"), st.text(max_size=3), st.integers()),
        "properties": st.dictionaries(property_keys, json_values, max_size=5) | json_values,
    },
)


def _decode(data: bytes | str) -> None:
    try:
        p.decode_interaction(data, conversation_id="c", max_bytes=4096)
    except p.ProtocolError as error:
        assert error.message
        assert isinstance(error.code, p.ErrorCode)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_the_typed_error(data: bytes) -> None:
    _decode(data)


@given(json_values)
def test_arbitrary_json_raises_only_the_typed_error(value: object) -> None:
    _decode(json.dumps(value))


@settings(max_examples=400)
@given(interaction_like)
def test_interaction_shaped_json_raises_only_the_typed_error(value: dict[str, object]) -> None:
    _decode(json.dumps(value))


def _event(kind: int, turn: int | None) -> p.Event:
    if kind == 0:
        return p.ReplicaJoined(conversation_id="c", properties=p.ReplicaJoinedProps(replica_id="r"))
    if kind == 1:
        return p.UserStartedSpeaking(conversation_id="c", turn_idx=turn)
    return p.Utterance(
        conversation_id="c", turn_idx=turn, properties=p.UtteranceProps(role="user", speech="x")
    )


steps = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=1e9, allow_nan=False),
        st.integers(0, 2),
        st.none() | st.integers(0, 50),
    ),
    min_size=1,
    max_size=60,
)


@given(steps, st.integers(1, 80))
def test_sequencer_seq_contiguous_and_timestamps_non_decreasing(
    script: list[tuple[float, int, int | None]], capacity: int
) -> None:
    sequencer = p.Sequencer("c", capacity=capacity)
    stamped = [sequencer.stamp(_event(kind, turn), now) for now, kind, turn in script]
    assert [e.seq for e in stamped] == list(range(1, len(script) + 1))
    times = [e.timestamp for e in stamped]
    assert all(t is not None for t in times)
    assert all(a <= b for a, b in itertools.pairwise(times))  # type: ignore[operator]
    for event in stamped:
        assert (event.turn_idx is None) == isinstance(event, p.SystemEvent)


@given(steps, st.integers(1, 80), st.integers(0, 70))
def test_replay_returns_exactly_the_events_after(
    script: list[tuple[float, int, int | None]], capacity: int, after: int
) -> None:
    sequencer = p.Sequencer("c", capacity=capacity)
    stamped = [sequencer.stamp(_event(kind, turn), now) for now, kind, turn in script]
    retained = stamped[-capacity:]
    replayed = sequencer.log.replay(after)
    assert replayed == [e for e in retained if (e.seq or 0) > after]
    if sequencer.log.covers(after):
        assert replayed == [e for e in stamped if (e.seq or 0) > after]


nesting = st.tuples(
    # deep enough to exhaust the stack even with the headroom hypothesis adds to it
    st.integers(1, 64) | st.integers(3000, 12_000),
    st.sampled_from(["[", '{"k":']),
    st.sampled_from(["properties", "extra", "top"]),
)


@settings(max_examples=40)
@given(nesting)
def test_any_nesting_depth_raises_only_the_typed_error(shape: tuple[int, str, str]) -> None:
    depth, opener, where = shape
    closer = "]" if opener == "[" else "}"
    value = opener * depth + "1" + closer * depth
    if where == "extra":
        value = '{"event_type": "conversation.echo", "extra": ' + value + "}"
    elif where == "properties":
        value = '{"event_type": "conversation.echo", "properties": {"k": ' + value + "}}"
    try:
        p.decode_interaction(value, conversation_id="c", max_bytes=1 << 20)
    except p.ProtocolError as error:
        assert error.message
