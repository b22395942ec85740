"""The app in-process: httpx over ASGI, a virtual clock, scripted plugins, SQLite in tmp."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from openreplica.runtime import VirtualClock
from openreplica.server.app import create_app
from openreplica.server.plugin_factory import ScriptedFactory
from openreplica.server.settings import ServerSettings


@dataclass
class Api:
    app: FastAPI
    client: httpx.AsyncClient
    clock: VirtualClock

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.post(path, json=body)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data


MakeApi = Callable[..., Awaitable[Api]]


@pytest.fixture
async def make_api(tmp_path: Path) -> AsyncIterator[MakeApi]:
    """`api = await make_api(**settings)`; every app is shut down after the test."""
    stack: list[tuple[Any, httpx.AsyncClient]] = []

    async def make(**settings: Any) -> Api:
        clock = VirtualClock()
        app = create_app(
            ServerSettings(data_dir=tmp_path / f"data{len(stack)}", **settings),
            clock=clock,
            plugin_factory=ScriptedFactory(),
        )
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )
        stack.append((lifespan, client))
        return Api(app, client, clock)

    yield make
    for lifespan, client in reversed(stack):
        await client.aclose()
        await lifespan.__aexit__(None, None, None)


@pytest.fixture
async def api(make_api: MakeApi) -> Api:
    return await make_api()
