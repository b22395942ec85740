"""The state saver, which listens to every broadcast event, lets the deliveries the same
event woke (a participant's channel, the cluster's event stream) run first: its CPU (the
LLM history as JSON, a SQL transaction) never stands between a turn boundary and the
sockets waiting for it. It still saves the state as it was at the boundary. (The
database writes wait for the node's batch: server/event_writer.py.)"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import cast

from openreplica.engine.io import ContextMessage
from openreplica.protocol import Sequencer, Utterance, UtteranceProps, encode
from openreplica.runtime import ConversationRuntime
from openreplica.server.store import ConversationState, Store
from openreplica.server.takeover import StateSaver, history_json

CID = "c1"


class _Store:
    """Records when it is written to, in `order`."""

    def __init__(self, order: list[str]) -> None:
        self.order = order
        self.states: list[ConversationState] = []

    async def save_state(self, state: ConversationState, owner: str | None = None) -> bool:
        self.order.append("saved")
        self.states.append(state)
        return True


def _utterance(text: str) -> Utterance:
    event = Utterance(
        conversation_id=CID, turn_idx=1, properties=UtteranceProps(role="user", speech=text)
    )
    stamped = Sequencer(CID).stamp(event, 100.0)
    assert isinstance(stamped, Utterance)
    return stamped


async def _delivery(queue: asyncio.Queue[bytes], order: list[str]) -> None:
    """A channel's sender: woken by the event after the listener under test."""
    await queue.get()
    order.append("delivered")


async def test_the_state_saver_converts_and_saves_after_the_deliveries() -> None:
    order: list[str] = []
    store = _Store(order)
    history = (
        ContextMessage(role="user", content="hello"),
        ContextMessage(role="assistant", content="hi"),
    )
    context = SimpleNamespace(context="be brief", history=history)
    engine = SimpleNamespace(turn_idx=1, context=context)
    runtime = SimpleNamespace(conversation_id=CID, engine=engine)
    saver = StateSaver(cast(Store, store), cast(ConversationRuntime, runtime), lambda: 42.0)
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    sender = asyncio.create_task(_delivery(queue, order))
    await asyncio.sleep(0)
    event = _utterance("hello")
    saver.on_event(event, encode(event))  # a turn boundary: the state as it is now
    queue.put_nowait(encode(event))
    context.history = (*history, ContextMessage(role="user", content="later"))  # moves on
    await sender
    await saver.aclose()
    assert order == ["delivered", "saved"]
    assert store.states == [ConversationState(CID, 1, 1, "be brief", history_json(history), 42.0)]
