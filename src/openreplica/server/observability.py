"""What operators can see inside one server: its metrics and traces, built from the
settings and handed to the hub (per-conversation observers) and the webhook sender."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, FastAPI, Response

from openreplica.runtime import NULL_OBSERVER, Observers, RuntimeObserver
from openreplica.server.deps import require_api_key
from openreplica.server.metrics import CONTENT_TYPE, ServerMetrics
from openreplica.server.settings import ServerSettings
from openreplica.server.tracing import TurnTracer, tracer_provider

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = ["Observability"]


class Observability:
    def __init__(self, settings: ServerSettings, span_exporter: SpanExporter | None = None) -> None:
        self.metrics = ServerMetrics() if settings.metrics else None
        self.tracer_provider: TracerProvider | None = tracer_provider(settings, span_exporter)
        self._tracer = TurnTracer(self.tracer_provider) if self.tracer_provider else None

    def observe(self, conversation_id: str) -> RuntimeObserver:
        """The observer of one conversation's runtime."""
        observers = [
            source.conversation(conversation_id)
            for source in (self.metrics, self._tracer)
            if source is not None
        ]
        if not observers:
            return NULL_OBSERVER
        return observers[0] if len(observers) == 1 else Observers(observers)

    def webhook_outcome(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.webhook_outcome(outcome)

    def add_routes(self, app: FastAPI) -> None:
        """`GET /metrics` in the Prometheus text format (when metrics are on), behind the
        API key like the REST API (a scraper sends `x-api-key`)."""
        metrics = self.metrics
        if metrics is None:
            return
        router = APIRouter(dependencies=[Depends(require_api_key)])

        @router.get("/metrics", include_in_schema=False)
        async def prometheus() -> Response:
            return Response(metrics.render(), media_type=CONTENT_TYPE)

        app.include_router(router)

    def shutdown(self) -> None:
        """Export the spans still buffered."""
        if self.tracer_provider is not None:
            self.tracer_provider.shutdown()
