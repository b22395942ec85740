"""`ReplicaClient`: one server — its REST API, its conversations, shared tools."""

from __future__ import annotations

import json
from typing import Any, Literal, TypeVar

import httpx

from openreplica.client.clock import Clock
from openreplica.client.conversation import Conversation, History, ReconnectPolicy
from openreplica.client.rest import JSONObject, RestClient
from openreplica.client.target import ConversationTarget
from openreplica.client.tools import ToolFunction, ToolRegistry
from openreplica.client.transport import Transport
from openreplica.client.websocket import WebSocketTransport

__all__ = ["ReplicaClient", "TransportName", "connect"]

TransportName = Literal["websocket", "webrtc"]
F = TypeVar("F", bound=ToolFunction)


class ReplicaClient(RestClient):
    """A client of one openreplica server.

    REST helpers (personas, conversations) come from `RestClient`; `connect()` joins a
    conversation; tools registered here (`@client.tool`) are answered in every
    conversation this client joins.

        async with ReplicaClient("http://127.0.0.1:8000", api_key=...) as client:
            info = await client.create_conversation(persona_id=...)
            async with await client.connect(info) as conv:
                await conv.say("Hello!")
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        http_transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        reorder_wait: float = 0.5,
        policy: ReconnectPolicy | None = None,
    ) -> None:
        super().__init__(base_url, api_key, timeout=timeout, transport=http_transport)
        self.tools = ToolRegistry()
        self._clock = clock
        self._reorder_wait = reorder_wait
        self._policy = policy

    def tool(self, fn: F) -> F:
        """Decorator: register `fn` (sync or async) as a tool named after it."""
        return self.tools.register(fn)

    def register_tool(self, fn: F, *, name: str | None = None) -> F:
        """Register `fn` (sync or async) as the tool `name` (default: its name)."""
        return self.tools.register(fn, name=name)

    def target(
        self, conversation: str | JSONObject, *, token: str | None = None
    ) -> ConversationTarget:
        """Where `conversation` (an id, a URL, or a `create_conversation` result) lives."""
        if isinstance(conversation, dict):
            token = token or conversation.get("meeting_token")
            conversation = str(conversation["conversation_id"])
        if "://" in conversation:
            target = ConversationTarget.from_url(conversation, token=token, api_key=self.api_key)
        else:
            target = ConversationTarget(self.base_url, conversation, token, self.api_key)
        return target

    async def connect(
        self,
        conversation: str | JSONObject,
        *,
        token: str | None = None,
        last_seq: int | None = None,
        transport: TransportName | Transport = "websocket",
    ) -> Conversation:
        """Join a conversation (id, URL or `create_conversation` result) and start
        receiving. `last_seq=0` replays everything the server retained first."""
        target = self.target(conversation, token=token)
        conv = Conversation(
            target.conversation_id,
            _transport(target, transport),
            clock=self._clock,
            reorder_wait=self._reorder_wait,
            policy=self._policy,
            tools=self._tools_copy(),
            history=self._history(target) if self.api_key or target.api_key else None,
        )
        return await conv.start(last_seq)

    def _tools_copy(self) -> ToolRegistry:
        tools = ToolRegistry()
        tools.update(self.tools)
        return tools

    def _history(self, target: ConversationTarget) -> History:
        async def fetch(after_seq: int) -> list[bytes]:
            return await _events_after(self, target.conversation_id, after_seq)

        return fetch


async def _events_after(rest: RestClient, conversation_id: str, after_seq: int) -> list[bytes]:
    """The conversation's stored events after `after_seq`, from `GET …?verbose=true`."""
    info = await rest.get_conversation(conversation_id, verbose=True)
    events: list[Any] = info.get("events") or []
    return [
        json.dumps(e).encode()
        for e in events
        if isinstance(e, dict) and isinstance(e.get("seq"), int) and e["seq"] > after_seq
    ]


def _transport(target: ConversationTarget, transport: TransportName | Transport) -> Transport:
    if transport == "websocket":
        return WebSocketTransport(target)
    if transport == "webrtc":
        from openreplica.client.webrtc import WebRTCTransport  # aiortc, imported lazily

        return WebRTCTransport(target)
    if isinstance(transport, str):
        raise ValueError(f"unknown transport {transport!r}; use 'websocket' or 'webrtc'")
    return transport


async def connect(
    url: str,
    *,
    token: str | None = None,
    api_key: str | None = None,
    last_seq: int | None = None,
    transport: TransportName | Transport = "websocket",
    clock: Clock | None = None,
    reorder_wait: float = 0.5,
    policy: ReconnectPolicy | None = None,
    tools: ToolRegistry | None = None,
) -> Conversation:
    """Join the conversation at `url` (its `conversation_url` or WebSocket URL).

    async with await connect("http://127.0.0.1:8000/c/abc?t=TOKEN") as conv:
        async for event in conv: ...
    """
    target = ConversationTarget.from_url(url, token=token, api_key=api_key)
    history: History | None = None
    if target.api_key:

        async def fetch(after_seq: int) -> list[bytes]:
            async with RestClient(target.base_url, target.api_key) as rest:
                return await _events_after(rest, target.conversation_id, after_seq)

        history = fetch
    conv = Conversation(
        target.conversation_id,
        _transport(target, transport),
        clock=clock,
        reorder_wait=reorder_wait,
        policy=policy,
        tools=tools,
        history=history,
    )
    return await conv.start(last_seq)
