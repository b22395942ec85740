"""Fixtures: an in-memory conversation on virtual time."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from openreplica.client import Conversation, ReconnectPolicy
from openreplica.client.testing import FakeServer
from openreplica.runtime.clock import VirtualClock


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def server() -> FakeServer:
    return FakeServer("c1")


@pytest.fixture
async def conv(server: FakeServer, clock: VirtualClock) -> AsyncIterator[Conversation]:
    conversation = Conversation(
        "c1",
        server.transport(),
        clock=clock,
        reorder_wait=0.5,
        policy=ReconnectPolicy(attempts=3, first_delay=0.1, max_delay=1.0, gap_retries=2),
    )
    await conversation.start(last_seq=0)
    yield conversation
    await conversation.close()
