"""WebRTC signalling, the browser call page and its static files.

- `POST /v2/conversations/{id}/webrtc/offer` (SPEC §2.2): `{"sdp", "type": "offer"}` ->
  `{"sdp", "type": "answer"}` (plus `replica_id`, `replica_name` and `persona_name` for
  the page and the JS client). Auth as the WebSocket: `?t=` or `x-api-key`, checked
  before the body (at most `max_offer_bytes`, else 413) is read; optional `?last_seq=`
  (or `"last_seq"` in the body) replays what a reconnecting client missed. The participant joins the
  conversation when the offer is accepted and leaves when the peer connection is lost
  or closed.
- In a cluster, an offer for a conversation another node hosts is forwarded to that node
  (server/offer_forwarding.py), whose answer carries its own ICE candidates: media flows
  to the owner directly.
- `GET /c/{id}` (SPEC §2.4): the call page; `/static/*`: its files and the JS client.

`add_webrtc_routes(app)` wires all of it into the app built by `create_app`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from openreplica.plugins.avatar import AvatarCatalog, UnknownReplica
from openreplica.plugins.base import Avatar
from openreplica.runtime import ConversationRuntime
from openreplica.server.hub import MOVED_FLUSH
from openreplica.server.offer_forwarding import forward_offer
from openreplica.server.request_body import parse_json, read_body
from openreplica.server.schemas import ConversationCreate
from openreplica.transports.channel import ChannelLimits, History
from openreplica.transports.rate_limit import TokenBucket
from openreplica.transports.webrtc import WebRTCPeer, WebRTCSettings, enable_loopback_candidates

__all__ = [
    "STATIC_DIR",
    "PeerRegistry",
    "add_webrtc_routes",
    "answer_offer",
    "parse_last_seq",
]

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
OFFER_PATH = "/v2/conversations/{conversation_id}/webrtc/offer"


class ParticipantLike(Protocol):
    conversation_id: str
    runtime: ConversationRuntime
    limits: ChannelLimits
    history: History | None
    conversation_bucket: TokenBucket | None

    async def join(self) -> None: ...


class HubLike(Protocol):
    async def authorise(self, conversation_id: str, credential: str | None) -> None: ...

    def participant(
        self, conversation_id: str, credential: str | None
    ) -> AbstractAsyncContextManager[ParticipantLike]: ...


class PeerRegistry:
    """The live peers of one app, so that shutdown closes every one."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[None]] = set()
        self.peers: set[WebRTCPeer] = set()

    def spawn(self, coro: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(coro, name="webrtc-participant")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def close_all(self) -> None:
        for peer in list(self.peers):
            peer._finish("server shutting down")
        await asyncio.gather(*self.tasks, return_exceptions=True)


def _refusal(exc: BaseException) -> JSONResponse | None:
    """A hub `JoinRefused` as the SPEC §5 error body; None for any other error."""
    status = getattr(exc, "http_status", None)
    if not isinstance(status, int):
        return None
    message = str(getattr(exc, "message", "") or exc)
    if status == 401:
        return JSONResponse({"message": "Invalid access token"}, status_code=401)
    return JSONResponse({"error": message}, status_code=status)


def _avatar_for(app: FastAPI, participant: ParticipantLike) -> Avatar | None:
    if getattr(participant, "audio_only", False):
        return None
    catalog = getattr(app.state, "avatars", None)
    if not isinstance(catalog, AvatarCatalog):
        data_dir = getattr(getattr(app.state, "settings", None), "data_dir", None)
        catalog = AvatarCatalog(Path(data_dir) / "replicas" if data_dir else None)
        app.state.avatars = catalog
    replica_id = participant.runtime.settings.replica_id
    try:
        return catalog.get(replica_id)
    except UnknownReplica:
        log.warning("unknown replica %r: the conversation has no video", replica_id)
        return None


async def _serve_participant(
    app: FastAPI,
    hub: HubLike,
    conversation_id: str,
    credential: str | None,
    offer_sdp: str,
    last_seq: int | None,
    ready: asyncio.Future[dict[str, Any]],
) -> None:
    """Join, answer, stay while the peer lives, leave. Errors before the answer go to
    `ready` (the HTTP handler turns them into responses)."""
    registry: PeerRegistry = app.state.webrtc_peers
    settings: WebRTCSettings = app.state.webrtc_settings
    try:
        async with hub.participant(conversation_id, credential) as participant:
            avatar = _avatar_for(app, participant)
            peer = WebRTCPeer(
                participant.runtime,
                settings=settings,
                avatar=avatar,
                limits=participant.limits,
                history=participant.history,
                last_seq=last_seq,
                conversation_bucket=participant.conversation_bucket,
                on_channel_open=participant.join,
            )
            registry.peers.add(peer)
            try:
                answer = await peer.answer(offer_sdp)
                if not ready.done():
                    ready.set_result(
                        {
                            "sdp": answer,
                            "type": "answer",
                            "replica_id": participant.runtime.settings.replica_id,
                            "replica_name": avatar.name if avatar is not None else None,
                            "persona_name": getattr(participant, "persona_name", None),
                        }
                    )
                reason = await _closed_or_moved(peer, getattr(participant, "moved", None))
                log.info("%s: WebRTC participant left: %s", conversation_id, reason)
            finally:
                registry.peers.discard(peer)
                await peer.close()
    except asyncio.CancelledError:
        if not ready.done():
            ready.cancel()
        raise
    except Exception as exc:
        if not ready.done():
            ready.set_exception(exc)
        else:
            log.exception("%s: WebRTC participant failed", conversation_id)


async def _closed_or_moved(peer: WebRTCPeer, moved: asyncio.Event | None) -> str:
    """Wait until the peer is gone, or the conversation moved to another cluster node
    (this one drains): then the peer connection is closed without `system.shutdown`, and
    the client posts a new offer with `last_seq`, which reaches the new owner."""
    if moved is None:
        return await peer.wait_closed()
    closed = asyncio.create_task(peer.wait_closed())
    moving = asyncio.create_task(moved.wait())
    try:
        await asyncio.wait({closed, moving}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        closed.cancel()
        moving.cancel()
        await asyncio.gather(closed, moving, return_exceptions=True)
    if closed.done() and not closed.cancelled():
        return closed.result()
    if peer.channel is not None:  # its refusals (`conversation_moving`) first
        with contextlib.suppress(Exception):
            async with asyncio.timeout(MOVED_FLUSH):
                await peer.channel.sent()
    return "the conversation moved to another node"


def _bad_request(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


def parse_last_seq(value: object) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError
    seq = int(value)
    if seq < 0:
        raise ValueError
    return seq


async def _offer(conversation_id: str, request: Request) -> Response:
    # Credentials first, then a bounded read: nobody can make the server hold a body
    # for a conversation they may not join (SPEC §2.6).
    credential = request.query_params.get("t") or request.headers.get("x-api-key")
    hub: HubLike = request.app.state.hub
    try:
        await hub.authorise(conversation_id, credential)
    except Exception as exc:
        refusal = _refusal(exc)
        if refusal is None:
            raise
        return refusal
    limit = request.app.state.settings.max_offer_bytes
    body = parse_json(await read_body(request, limit), '{"sdp": "...", "type": "offer"}')
    if not isinstance(body, dict) or not isinstance(body.get("sdp"), str):
        return _bad_request("`sdp` (string) is required")
    if body.get("type", "offer") != "offer":
        return _bad_request('`type` must be "offer"')
    try:
        last_seq = parse_last_seq(request.query_params.get("last_seq", body.get("last_seq")))
    except (TypeError, ValueError):
        return _bad_request("`last_seq` must be a non-negative integer")
    # another cluster node hosts it: its answer (and ICE candidates) come back as they are
    forwarded = await forward_offer(request.app, conversation_id, credential, body["sdp"], last_seq)
    if forwarded is not None:
        return forwarded
    return await answer_offer(request.app, conversation_id, credential, body["sdp"], last_seq)


async def answer_offer(
    app: FastAPI, conversation_id: str, credential: str | None, sdp: str, last_seq: int | None
) -> Response:
    """Join the participant here and answer its offer (an authorised, parsed offer: from
    a client, or forwarded by another cluster node, `routes_cluster`)."""
    ready: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    app.state.webrtc_peers.spawn(
        _serve_participant(app, app.state.hub, conversation_id, credential, sdp, last_seq, ready)
    )
    try:
        answer = await ready
    except ValueError as exc:
        return _bad_request(str(exc))
    except Exception as exc:
        refusal = _refusal(exc)
        if refusal is None:
            raise
        return refusal
    return JSONResponse(answer)


@cache
def _page_html(captions: bool) -> str:
    html = (STATIC_DIR / "call.html").read_text(encoding="utf-8")
    if captions:
        return html
    # captions start hidden; the page's CC button still turns them on
    return html.replace('class="app" id="app"', 'class="app no-captions" id="app"', 1).replace(
        'id="cc" aria-pressed="true"', 'id="cc" aria-pressed="false"', 1
    )


async def _captions_on(request: Request, conversation_id: str) -> bool:
    """`properties.enable_closed_captions` of the conversation (default off, as on the
    hosted API, where it turns on the call room's captions)."""
    services = getattr(request.app.state, "services", None)
    record = await services.store.get_conversation(conversation_id) if services else None
    if record is None:
        return False
    properties = ConversationCreate.stored(record.request).properties
    return properties is not None and properties.enable_closed_captions is True


async def _call_page(conversation_id: str, request: Request) -> HTMLResponse:
    # The page reads the id from its own URL; nothing from the request is echoed back.
    captions = await _captions_on(request, conversation_id)
    return HTMLResponse(_page_html(captions), headers={"cache-control": "no-cache"})


def _wrap_lifespan(app: FastAPI, on_exit: Callable[[], Any]) -> None:
    """Close the peers still open once the app's own shutdown (the hub ending every
    conversation, which sends `system.shutdown` to each peer) is done."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app_: Any) -> AsyncIterator[Any]:
        try:
            async with inner(app_) as state:
                yield state
        finally:
            with contextlib.suppress(Exception):
                await on_exit()

    app.router.lifespan_context = lifespan


def add_webrtc_routes(app: FastAPI, settings: WebRTCSettings | None = None) -> None:
    """The WebRTC offer endpoint, the call page at `/c/{id}` and `/static/*`.

    Needs `app.state.hub` (a `ConversationHub`); uses `app.state.avatars` (an
    `AvatarCatalog`) when set. `settings` are the WebRTC options (default: those of
    `app.state.settings`, a `ServerSettings`)."""
    if hasattr(app.state, "webrtc_peers"):
        return  # already added
    webrtc = settings or app.state.settings.webrtc
    if webrtc.loopback:
        enable_loopback_candidates()
    registry = PeerRegistry()
    app.state.webrtc_settings = webrtc
    app.state.webrtc_peers = registry
    app.add_api_route(OFFER_PATH, _offer, methods=["POST"], tags=["webrtc"])
    app.add_api_route(
        "/c/{conversation_id}",
        _call_page,
        methods=["GET"],
        response_class=HTMLResponse,
        include_in_schema=False,
    )
    if not any(getattr(r, "path", None) == "/static" for r in app.routes):
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    _wrap_lifespan(app, registry.close_all)
