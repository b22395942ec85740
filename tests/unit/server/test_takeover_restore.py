"""What a node taking a conversation over continues from (server/takeover.py): the saved
LLM state plus the events after it, and the events that end what was in flight; and
which node takes which of a dead node's conversations (server/cluster_node.py)."""

from __future__ import annotations

from openreplica.cluster import NodeStatus
from openreplica.engine.io import ContextMessage
from openreplica.protocol import (
    Event,
    ReplicaJoined,
    ReplicaJoinedProps,
    ReplicaStartedSpeaking,
    ReplicaStoppedProps,
    ReplicaStoppedSpeaking,
    Sequencer,
    StreamingProps,
    UserStartedSpeaking,
    Utterance,
    UtteranceProps,
    UtteranceStreaming,
    encode,
)
from openreplica.server.cluster_node import share_of_orphans
from openreplica.server.store import ConversationState, EventRecord
from openreplica.server.takeover import history_json, messages_of, restore

CID = "c1"


def _records(*events: Event) -> list[EventRecord]:
    sequencer = Sequencer(CID)
    out = []
    for i, event in enumerate(events):
        stamped = sequencer.stamp(event, 100.0 + i)
        out.append(
            EventRecord(
                CID, stamped.seq or 0, stamped.event_type, stamped.timestamp or 0, encode(stamped)
            )
        )
    return out


def _user(text: str, turn: int) -> Utterance:
    props = UtteranceProps(role="user", speech=text)
    return Utterance(conversation_id=CID, turn_idx=turn, properties=props)


def _streaming(text: str, index: int, final: bool = False) -> UtteranceStreaming:
    props = StreamingProps(role="replica", speech=text, content_index=index, final=final)
    return UtteranceStreaming(conversation_id=CID, turn_idx=1, inference_id="i1", properties=props)


def test_a_reply_cut_by_the_death_ends_as_an_interruption_with_the_words_heard() -> None:
    events = _records(
        ReplicaJoined(conversation_id=CID, properties=ReplicaJoinedProps(replica_id="r")),
        _user("hello there", 1),
        ReplicaStartedSpeaking(conversation_id=CID, turn_idx=1, inference_id="i1"),
        _streaming("You", 0),
        _streaming("You said", 1),
    )
    restored = restore(CID, None, events)
    assert (restored.last_seq, restored.last_timestamp) == (5, 104.0)
    assert restored.turn_idx == 1 and restored.joined_at == 100.0
    assert restored.context is None  # the one the conversation was created with
    assert restored.history == [
        ContextMessage(role="user", content="hello there"),
        ContextMessage(role="assistant", content="You said"),  # only what was heard
    ]
    final, stopped, role_stopped = restored.closing
    assert isinstance(final, UtteranceStreaming) and final.inference_id == "i1"
    assert final.properties.final and final.properties.is_interrupted
    assert (final.properties.speech, final.properties.content_index) == ("You said", 2)
    assert isinstance(stopped, ReplicaStoppedSpeaking) and stopped.turn_idx == 1
    assert stopped.properties == ReplicaStoppedProps(duration=2.0, interrupted=True)
    assert role_stopped.event_type == "conversation.stopped_speaking"


def test_the_saved_state_is_the_base_and_only_later_events_are_applied() -> None:
    events = _records(
        _user("first", 1),
        ReplicaStartedSpeaking(conversation_id=CID, turn_idx=1, inference_id="i1"),
        _streaming("You said first", 0, final=True),
        ReplicaStoppedSpeaking(
            conversation_id=CID,
            turn_idx=1,
            inference_id="i1",
            properties=ReplicaStoppedProps(duration=1.0, interrupted=False),
        ),
        _user("second", 2),
        UserStartedSpeaking(conversation_id=CID),
    )
    saved = [
        ContextMessage(role="user", content="first"),
        ContextMessage(role="tool", content="42", tool_call_id="t", name="f"),
    ]
    state = ConversationState(CID, 4, 1, "be brief", history_json(tuple(saved)), 0.0)
    restored = restore(CID, state, events)
    assert restored.context == "be brief" and restored.turn_idx == 2
    assert restored.history == [*saved, ContextMessage(role="user", content="second")]
    # the user was speaking: their speech ends (its words were on the dead node)
    assert [e.event_type for e in restored.closing] == [
        "conversation.user.stopped_speaking",
        "conversation.stopped_speaking",
    ]


def test_the_history_round_trips_through_json() -> None:
    history = (
        ContextMessage(role="assistant", content="", tool_calls=(("t1", "lookup", "{}"),)),
        ContextMessage(role="tool", content="found", tool_call_id="t1", name="lookup"),
    )
    assert tuple(messages_of(history_json(history))) == history


def _node(name: str, load: int, capacity: int = 4, draining: bool = False) -> NodeStatus:
    return NodeStatus(name, f"http://{name}", capacity, load=load, draining=draining)


def test_a_dead_nodes_conversations_are_dealt_round_the_nodes_with_room() -> None:
    nodes = [
        _node("a", 3),
        _node("b", 1),
        _node("c", 0),
        _node("d", 4),
        _node("e", 0, draining=True),
    ]
    orphans = ["c1", "c2", "c3", "c4"]
    deal = {n.node_id: share_of_orphans(n.node_id, nodes, orphans, set()) for n in nodes}
    # least loaded first: c, b, a; d is full, e draining
    assert deal == {
        "c": (["c1", "c4"], True),
        "b": (["c2"], True),
        "a": (["c3"], True),
        "d": ([], False),
        "e": ([], False),
    }
    # one left for two TTLs by its node goes to anyone with room
    assert share_of_orphans("b", nodes, orphans, {"c1"}) == (["c2", "c1"], True)


def test_with_no_room_anywhere_every_node_may_end_them() -> None:
    nodes = [_node("a", 4), _node("b", 4)]
    assert share_of_orphans("a", nodes, ["c1"], set()) == (["c1"], False)
