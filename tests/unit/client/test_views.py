"""Turn and Utterance views, and the transcript, from ordered events."""

from __future__ import annotations

import json
from typing import Any

from openreplica.client import ConversationView
from openreplica.protocol import decode_event

T0 = 1_764_000_000.0


def ev(
    seq: int | None,
    event_type: str,
    t: float,
    props: dict[str, Any] | None = None,
    turn: int | None = None,
    inf: str | None = None,
) -> Any:
    message: dict[str, Any] = {
        "message_type": "system" if event_type.startswith("system.") else "conversation",
        "event_type": event_type,
        "conversation_id": "c1",
        "timestamp": T0 + t,
    }
    if seq is not None:
        message["seq"] = seq
    if turn is not None:
        message["turn_idx"] = turn
    if inf is not None:
        message["inference_id"] = inf
    if props is not None:
        message["properties"] = props
    return decode_event(json.dumps(message))


def streaming(
    seq: int,
    t: float,
    speech: str,
    index: int,
    final: bool,
    turn: int,
    inf: str,
    interrupted: bool | None = None,
) -> Any:
    props: dict[str, Any] = {
        "role": "replica",
        "speech": speech,
        "content_index": index,
        "final": final,
    }
    if interrupted is not None:
        props["is_interrupted"] = interrupted
    return ev(seq, "conversation.utterance.streaming", t, props, turn, inf)


def conversation() -> list[Any]:
    R = "conversation.replica"
    return [
        ev(1, "system.replica_joined", 0.0, {"replica_id": "r1"}),
        # a greeting echo, turn 0
        ev(2, f"{R}.started_speaking", 0.5, None, 0, "greet"),
        streaming(3, 0.6, "Welcome.", 0, True, 0, "greet"),
        ev(4, "conversation.utterance", 0.6, {"role": "replica", "speech": "Welcome."}, 0, "greet"),
        ev(5, f"{R}.stopped_speaking", 1.4, {"duration": 0.9, "interrupted": False}, 0, "greet"),
        # the user speaks: turn 1
        ev(6, "conversation.user.started_speaking", 2.0, None, 0),
        ev(7, "conversation.user.stopped_speaking", 3.5, None, 1),
        ev(8, "conversation.utterance", 3.6, {"role": "user", "speech": "Tell me a story."}, 1),
        ev(
            9,
            "conversation.tool_call",
            3.7,
            {"name": "get_mood", "arguments": "{}", "tool_call_id": "call_1"},
            1,
            "inf-1",
        ),
        ev(10, f"{R}.started_speaking", 4.0, None, 1, "inf-2"),
        streaming(11, 4.1, "Once upon", 0, False, 1, "inf-2"),
        ev(
            12,
            "conversation.utterance",
            4.2,
            {"role": "replica", "speech": "Once upon a time there was a fox."},
            1,
            "inf-2",
        ),
        streaming(13, 4.5, "Once upon a time", 1, False, 1, "inf-2"),
        # cut off by a respond: turn 2
        streaming(14, 4.8, "Once upon a time", 2, True, 1, "inf-2", interrupted=True),
        ev(15, f"{R}.stopped_speaking", 4.8, {"duration": 0.8, "interrupted": True}, 1, "inf-2"),
        ev(
            16,
            "conversation.stopped_speaking",
            4.8,
            {"role": "replica", "duration": 0.8, "interrupted": True},
            1,
            "inf-2",
        ),
        ev(17, "conversation.utterance", 4.9, {"role": "user", "speech": "Stop."}, 2),
        ev(
            None,
            "system.error",
            5.0,
            {"code": "rate_limited", "message": "slow down", "event_type": "conversation.echo"},
        ),
        ev(18, "conversation.future_thing", 5.1, {"x": 1}, 2),
        ev(19, "system.shutdown", 6.0, {"shutdown_reason": "end_conversation_endpoint_hit"}),
    ]


def build() -> ConversationView:
    view = ConversationView()
    for event in conversation():
        view.apply(event)
    return view


def test_replica_utterance_reconciles_said_heard_and_interrupted() -> None:
    view = build()
    story = view.utterance("inf-2")
    assert story is not None
    assert story.text == "Once upon a time there was a fox."  # what was generated
    assert story.heard == "Once upon a time"  # what was played
    assert story.spoken == "Once upon a time"
    assert (story.final, story.interrupted, story.done) == (True, True, True)
    assert story.duration == 0.8 and story.turn_idx == 1
    assert story.started_at == T0 + 4.0 and story.ended_at == T0 + 4.8
    greeting = view.utterance("greet")
    assert greeting is not None and greeting.spoken == "Welcome." and not greeting.interrupted


def test_user_utterances_carry_speaking_time() -> None:
    view = build()
    users = [u for u in view.utterances if u.role == "user"]
    assert [(u.text, u.turn_idx, u.duration) for u in users] == [
        ("Tell me a story.", 1, 1.5),
        ("Stop.", 2, 0.0),  # typed: no speaking time
    ]
    assert users[0].started_at == T0 + 2.0


def test_turns_group_events_by_turn_idx() -> None:
    view = build()
    assert sorted(view.turns) == [0, 1, 2]
    turn = view.turns[1]
    assert turn.user is not None and turn.user.text == "Tell me a story."
    assert [u.inference_id for u in turn.replies] == ["inf-2"]
    assert [c.properties.name for c in turn.tool_calls] == ["get_mood"]
    assert turn.reply_text == "Once upon a time"
    assert turn.started_at == T0 + 3.5  # user.stopped_speaking opens turn 1
    assert [e.seq for e in view.turns[2].events] == [17, 18]  # unknown events grouped too
    assert view.turns[0].reply_text == "Welcome."


def test_errors_kept_apart_and_shutdown_ends() -> None:
    view = build()
    assert [e.properties.code for e in view.errors] == ["rate_limited"]
    assert all(e.seq is not None for e in view.events)
    assert view.ended and view.shutdown_reason == "end_conversation_endpoint_hit"
    assert view.start_time == T0


def test_transcript_has_the_webhook_shape() -> None:
    entries = [
        {
            k: getattr(e, k)
            for k in ("role", "content", "seconds_from_start", "duration", "inference_id")
        }
        for e in build().transcript()
    ]
    assert entries == [
        {
            "role": "replica",
            "content": "Welcome.",
            "seconds_from_start": 0.5,
            "duration": 0.9,
            "inference_id": "greet",
        },
        {
            "role": "user",
            "content": "Tell me a story.",
            "seconds_from_start": 3.6,
            "duration": 1.5,
            "inference_id": None,
        },
        {
            "role": "replica",
            "content": "Once upon a time",
            "seconds_from_start": 4.0,
            "duration": 0.8,
            "inference_id": "inf-2",
        },
        {
            "role": "user",
            "content": "Stop.",
            "seconds_from_start": 4.9,
            "duration": 0.0,
            "inference_id": None,
        },
    ]
