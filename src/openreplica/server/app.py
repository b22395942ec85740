"""The FastAPI application: REST API (SPEC §5), WebSocket data channel (§2.1), webhooks
(§6), persistence — wired from one `ServerSettings`.

`create_app` builds everything at startup (inside the lifespan) and stores:
`app.state.settings`, `app.state.hub` (the `ConversationHub` transports join through),
`app.state.services`. To add routes (e.g. WebRTC), include them before returning the app
or call `app.include_router(...)` on the result.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from openreplica import __version__
from openreplica.cluster import (
    Coordinator,
    EventStreams,
    LocalCoordinator,
    LocalPipes,
    Pipes,
    RedisCoordinator,
    RedisEventStreams,
    RedisPipes,
)
from openreplica.plugins.avatar.catalog import AvatarCatalog
from openreplica.plugins.avatar.facemesh import FaceModels, FaceModelsMissing
from openreplica.plugins.registry import ModelCache
from openreplica.runtime import Clock, SystemClock
from openreplica.server import (
    call_config,
    routes_cluster,
    routes_conversations,
    routes_interactions,
    routes_personas,
    routes_replicas,
    ws,
)
from openreplica.server.api_docs import add_api_docs
from openreplica.server.cluster_node import ClusterNode
from openreplica.server.conversation_end import Finisher
from openreplica.server.deps import Services
from openreplica.server.errors import install_error_handlers
from openreplica.server.hub import ConversationHub
from openreplica.server.observability import Observability
from openreplica.server.plugin_factory import ModelFactory, PluginFactory, ScriptedFactory
from openreplica.server.recordings import Recordings, RecordingSettings
from openreplica.server.relay_census import RelayCensus
from openreplica.server.replica_jobs import recover_dead_nodes_jobs, recover_replica_jobs
from openreplica.server.replica_training import REPLICA_WEBHOOK_EVENT
from openreplica.server.settings import ServerSettings
from openreplica.server.store import Store
from openreplica.server.webhooks import WebhookSender
from openreplica.server.webrtc_routes import add_webrtc_routes

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

log = logging.getLogger(__name__)


def _face_models(directory: Path) -> FaceModels | None:
    """The face models for photo replicas, or None (portraits then use OpenCV's Haar
    cascades) when `openreplica models pull face` has not been run."""
    try:
        return FaceModels.load(directory)
    except FaceModelsMissing:
        log.info("no face models in %s: photo replicas use the simpler portrait mode "
                 "(openreplica models pull face)", directory)  # fmt: skip
        return None


__all__ = ["create_app"]

DESCRIPTION = """A self-hostable conversational video replica server speaking the CVI
Interactions Protocol. Authenticate with the `x-api-key` header (when the server has a
key). Data channel: `GET /v2/conversations/{conversation_id}/ws` (WebSocket)."""


def create_app(
    settings: ServerSettings,
    *,
    clock: Clock | None = None,
    model_cache: ModelCache | None = None,
    plugin_factory: PluginFactory | None = None,
    span_exporter: SpanExporter | None = None,
) -> FastAPI:
    clock = clock or SystemClock()
    # --- observability: /metrics and per-turn traces (server/observability.py)
    observability = Observability(settings, span_exporter)
    owns_cache = model_cache is None
    cache = model_cache or ModelCache()
    if plugin_factory is None:
        plugin_factory = (
            ScriptedFactory()
            if settings.testing_scripted_plugins
            else ModelFactory(
                cache,
                settings.smart_turn_path if settings.turn_detector == "smart_turn" else None,
                asr_workers=settings.asr_workers,
            )
        )
    factory = plugin_factory

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = await Store.open(settings.sqlalchemy_url)
        client = httpx.AsyncClient(timeout=settings.webhook_timeout, follow_redirects=False)
        webhooks = WebhookSender(
            store,
            client,
            clock,
            secret=settings.webhook_secret,
            max_attempts=settings.webhook_max_attempts,
            retry_delay=settings.webhook_retry_delay,
            observe=observability.webhook_outcome,
            node=settings.this_node_id,
            lease=settings.webhook_lease,
        )
        resumed = await webhooks.resume()  # deliveries a previous run left pending
        if resumed:
            log.warning("resuming pending webhooks of %d conversations", resumed)
        webhooks.start()  # and those of nodes that die (leases run out)
        finisher = Finisher(store, webhooks, clock, settings.base_url)
        # in a cluster a node restarted with its id continues what it hosted (ClusterNode
        # .start), and the others' are theirs
        recovered = [] if settings.clustered else await finisher.recover()
        if recovered:
            log.warning("marked %d conversations of a previous run as ended", len(recovered))
        await recover_replica_jobs(
            store,
            settings.data_dir / "replicas",
            clock,
            lambda rid, url, props: webhooks.send(rid, url, REPLICA_WEBHOOK_EVENT, props),
            settings.this_node_id if settings.clustered else None,
        )
        catalog = AvatarCatalog(
            settings.data_dir / "replicas", face_models=_face_models(settings.face_models_path)
        )
        for replica_id, (name, _) in (await store.replica_names()).items():
            if replica_id in catalog:  # a portrait file removed since keeps no name
                catalog.rename(replica_id, name)
        recordings = Recordings(  # call recordings (enable_recording)
            RecordingSettings(
                settings.data_dir / "recordings",
                settings.recording_max_bytes,
                settings.recording_fps,
            ),
            clock,
            catalog,
        )
        coordinator, pipes, events = _cluster_backends(settings, clock)
        hub = ConversationHub(
            store,
            settings,
            clock,
            factory,
            finisher,
            catalog.list()[0].replica_id,
            recordings,
            observe=observability.observe,
            events=events,
        )
        if observability.metrics is not None:
            observability.metrics.track_live(hub.census)
        node = ClusterNode(
            settings, coordinator, pipes, store, hub, finisher, clock, time.process_time, events
        )
        node.on_dead_nodes(  # their replica training jobs: `error`, with their webhook
            lambda live: recover_dead_nodes_jobs(
                store,
                settings.data_dir / "replicas",
                clock,
                lambda rid, url, props: webhooks.send(rid, url, REPLICA_WEBHOOK_EVENT, props),
                live,
            )
        )
        await node.start()
        app.state.hub = hub
        app.state.node = node
        app.state.avatars = catalog
        app.state.webhooks = webhooks
        app.state.services = Services(settings, store, hub, clock, catalog, node)
        warming = (
            asyncio.create_task(
                factory.warm(settings.tts_engine, settings.stt_engine, settings.vad_engine)
            )
            if isinstance(factory, ModelFactory)
            else None
        )
        try:
            yield
        finally:
            if warming is not None:
                warming.cancel()
            await node.drain()
            await hub.aclose()
            await node.aclose()
            await webhooks.aclose(grace=settings.webhook_shutdown_grace)
            await client.aclose()
            if owns_cache:
                await cache.aclose()
            await store.aclose()
            observability.shutdown()

    app = FastAPI(
        title="openreplica",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served with local assets by api_docs (no CDN)
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.relays = RelayCensus()  # relayed sockets, waited for on a stop (graceful.py)
    # SPEC §2.5: apps call the API, the offer endpoint and /static from their own origin.
    # Credentials are the x-api-key header and meeting tokens, never cookies, so
    # credentialed CORS stays off and `*` exposes nothing a cross-site page could abuse.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_credentials=False,
        allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["content-type", "x-api-key", "authorization"],
        max_age=600,
    )
    install_error_handlers(app)
    app.include_router(routes_personas.router)
    app.include_router(routes_conversations.router)
    app.include_router(routes_replicas.router)
    app.include_router(routes_interactions.router)  # send-app-message, /v2/interactions
    app.include_router(routes_personas.pals_router)  # /v2/pals = /v2/personas
    app.include_router(routes_cluster.router)  # node to node (docs/scaling.md)
    app.include_router(ws.router)
    add_webrtc_routes(app, settings.webrtc)  # WebRTC offer, the call page /c/{id}, /static
    app.include_router(call_config.router)  # /c/{id}/config: ICE servers, can it listen
    observability.add_routes(app)  # GET /metrics
    add_api_docs(app)  # /docs and /redoc, assets served locally

    @app.get("/healthz", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app


def _turn_model_path(settings: ServerSettings) -> Path | None:
    """The Smart Turn file when the server may use it (`turn_detector` = smart_turn)."""
    return settings.smart_turn_path if settings.turn_detector == "smart_turn" else None


def _cluster_backends(
    settings: ServerSettings, clock: Clock
) -> tuple[Coordinator, Pipes, EventStreams | None]:
    """Redis when the settings name one, else the one-process in-memory backends (one
    process needs no event streams: its runtimes are the only readers)."""
    if settings.redis_url is None:
        return LocalCoordinator(clock.now), LocalPipes(), None
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import ConnectionError, TimeoutError

    from openreplica.cluster.resp import RespAddress, RespConnection

    # A restarted Redis leaves every pooled connection dead: a command on one is retried
    # on a fresh connection instead of failing (docs/scaling.md, failure model).
    redis = Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=5,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 3),
        retry_on_error=[ConnectionError, TimeoutError],
    )
    # Pipe messages and event appends leave on a lean connection of their own, written
    # to its socket when made (cluster/resp.py); None when the URL needs redis-py (TLS).
    address = RespAddress.from_url(settings.redis_url)
    writer = RespConnection(address, connect_timeout=5) if address is not None else None
    return (
        RedisCoordinator(redis, writer),
        RedisPipes(redis, clock.now, writer),
        RedisEventStreams(redis, writer=writer, node_id=settings.this_node_id),
    )
