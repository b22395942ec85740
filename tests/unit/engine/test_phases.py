"""The transition tables: complete, strict, and loud about what they refuse."""

from __future__ import annotations

from enum import Enum
from typing import Any, cast

import pytest

from openreplica import protocol as p
from openreplica.engine import ConversationEngine, EngineSettings
from openreplica.engine import io as e
from openreplica.engine import phases as ph
from openreplica.engine.phases import BadTransition, Table

TABLES: list[tuple[Table[Any, Any], type[Enum], type[Enum]]] = [
    (ph.GENERATION_WORDS, ph.Words, ph.WordsEvent),
    (ph.GENERATION_VOICE, ph.Voice, ph.VoiceEvent),
    (ph.GENERATION_QUEUE, ph.Queue, ph.QueueEvent),
    (ph.USER_TURN, ph.Listening, ph.ListeningEvent),
    (ph.TOOL_CALL, ph.CallPhase, ph.CallEvent),
]


@pytest.mark.parametrize(("table", "phase", "event"), TABLES)
def test_every_phase_has_a_row_every_event_a_use_and_every_move_ends_in_a_phase(
    table: Table[Any, Any], phase: type[Enum], event: type[Enum]
) -> None:
    used = set()
    for state in phase:  # a phase without a row would raise KeyError here
        for ev in event:
            try:
                assert isinstance(table.fire(state, ev), phase)
                used.add(ev)
            except BadTransition:
                pass
    assert used == set(event)


def test_a_transition_not_in_the_table_names_the_phase_and_the_event() -> None:
    with pytest.raises(BadTransition) as caught:
        ph.GENERATION_WORDS.fire(ph.Words.COMPLETE, ph.WordsEvent.MORE)
    assert str(caught.value) == (
        "Words.COMPLETE has no transition on WordsEvent.MORE (allowed: none, it is final)"
    )
    with pytest.raises(BadTransition, match=r"Listening.IDLE .* ListeningEvent.END .*START"):
        ph.USER_TURN.fire(ph.Listening.IDLE, ph.ListeningEvent.END)


def test_a_token_after_the_llm_finished_is_refused_loudly() -> None:
    """The runtime sends one end per stream; a token after it is a bug, not dropped."""
    engine = ConversationEngine("c1", EngineSettings(), lambda: "inf")
    engine.start(0.0)
    engine.handle(e.InteractionReceived(p.Respond(properties=p.RespondProps(text="Hi"))), 0.0)
    engine.handle(e.LLMToken(1, "Hello"), 0.0)
    engine.handle(e.LLMFinished(1), 0.0)
    with pytest.raises(BadTransition, match=r"Words\.COMPLETE"):
        engine.handle(e.LLMToken(1, " again"), 0.0)


def test_an_input_the_engine_has_no_case_for_is_refused_not_dropped() -> None:
    engine = ConversationEngine("c1", EngineSettings(), lambda: "inf")
    engine.start(0.0)
    with pytest.raises(AssertionError, match="object"):
        engine.handle(cast(Any, object()), 0.0)
