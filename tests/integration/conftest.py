"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from stub_http import Handler, StubServer
from webhook_receiver import WebhookReceiver


@pytest.fixture
async def stub_server() -> AsyncIterator[Callable[[Handler], Awaitable[StubServer]]]:
    """`server = await stub_server(handler)`; every server is stopped after the test."""
    servers: list[StubServer] = []

    async def start(handler: Handler) -> StubServer:
        server = StubServer(handler)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    """A webhook receiver on loopback (tests/support/webhook_receiver.py), stopped after."""
    started = WebhookReceiver()
    await started.start()
    yield started
    await started.stop()
