"""The openreplica app running in the test's own process: REST through httpx's
`ASGITransport`, conversations joined with `InProcessTransport` (no socket, no
subprocess). For tests where a socket is not the point."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from openreplica.client import Conversation, ReplicaClient
from openreplica.client.rest import JSONObject
from openreplica.server.app import create_app
from openreplica.server.hub import ConversationHub
from openreplica.server.inprocess import InProcessTransport
from openreplica.server.settings import ServerSettings

BASE_URL = "http://in-process"


@dataclass
class App:
    app: FastAPI
    http: httpx.AsyncClient

    @property
    def hub(self) -> ConversationHub:
        hub: ConversationHub = self.app.state.hub
        return hub

    async def conversation(self, **body: Any) -> str:
        response = await self.http.post("/v2/conversations", json=body)
        assert response.status_code == 200, response.text
        return str(response.json()["conversation_id"])

    def transport(self, conversation_id: str, credential: str | None = None) -> InProcessTransport:
        return InProcessTransport(self.app, conversation_id, credential=credential)


@asynccontextmanager
async def running_app(data_dir: Path, **settings: Any) -> AsyncIterator[App]:
    """`create_app` with scripted plugins unless `testing_scripted_plugins=False`."""
    settings.setdefault("testing_scripted_plugins", True)
    app = create_app(ServerSettings(data_dir=data_dir, **settings))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http,
    ):
        yield App(app, http)


class InProcessClient(ReplicaClient):
    """A `ReplicaClient` of an in-process app: REST over `ASGITransport`, and every
    `connect` over `InProcessTransport` (the same credential rules as the WebSocket)."""

    def __init__(self, app: FastAPI, api_key: str | None = None, **kw: Any) -> None:
        super().__init__(BASE_URL, api_key, http_transport=httpx.ASGITransport(app=app), **kw)
        self.app = app

    async def connect(  # type: ignore[override]
        self,
        conversation: str | JSONObject,
        *,
        token: str | None = None,
        last_seq: int | None = None,
    ) -> Conversation:
        target = self.target(conversation, token=token)
        link = InProcessTransport(
            self.app, target.conversation_id, credential=target.token or target.api_key
        )
        return await super().connect(conversation, token=token, last_seq=last_seq, transport=link)
