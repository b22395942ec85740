"""Prometheus metrics of one server (`GET /metrics`), in a registry of its own.

Counted as conversations run, through the runtime's observer (runtime/observer.py):
events sent by type, interactions refused by error code, plugin failures by plugin and
code, webhook deliveries, and the per-turn latencies (all in seconds, from the runtime's
clock). Live conversations and participants are read from the hub at scrape time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from openreplica.protocol import Event
from openreplica.runtime import RuntimeObserver

__all__ = ["CONTENT_TYPE", "ServerMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: (live conversations, connected participants)
Census = Callable[[], tuple[int, int]]

# Latencies from a few milliseconds (the framework) to many seconds (a slow model).
_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Interrupt → silence is at most one 20 ms frame by design: finer buckets.
_SILENCE = (0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.025, 0.05, 0.1, 0.25)

_USER_STARTED = "conversation.user.started_speaking"
_USER_STOPPED = "conversation.user.stopped_speaking"
_REPLICA_STARTED = "conversation.replica.started_speaking"


class _LiveCollector(Collector):
    def __init__(self, census: Census) -> None:
        self._census = census

    def collect(self) -> Iterator[Metric]:
        conversations, participants = self._census()
        yield GaugeMetricFamily(
            "openreplica_live_conversations", "Conversations with the replica joined", conversations
        )
        yield GaugeMetricFamily(
            "openreplica_participants", "Participants connected to live conversations", participants
        )


class ServerMetrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.events_sent = Counter(
            "openreplica_events_sent", "Events sent to conversations", ["event_type"],
            registry=registry,
        )  # fmt: skip
        self.interactions_refused = Counter(
            "openreplica_interactions_refused",
            "Interactions answered with a system.error to their sender",
            ["code"],
            registry=registry,
        )
        self.plugin_failures = Counter(
            "openreplica_plugin_failures",
            "Plugin failures broadcast as system.error",
            ["plugin", "code"],
            registry=registry,
        )
        self.webhook_deliveries = Counter(
            "openreplica_webhook_deliveries",
            "Webhook deliveries by outcome (delivered, or given_up after every attempt)",
            ["outcome"],
            registry=registry,
        )
        self.webhook_failures = Counter(
            "openreplica_webhook_failed_attempts",
            "Webhook POST attempts that failed (connection error, timeout, non-2xx)",
            registry=registry,
        )
        self.response_latency = Histogram(
            "openreplica_response_latency_seconds",
            "End of the user's speech to the replica's first audio of its reply",
            buckets=_LATENCY,
            registry=registry,
        )
        self.llm_first_token = Histogram(
            "openreplica_llm_first_token_seconds",
            "LLM request to its first token",
            buckets=_LATENCY,
            registry=registry,
        )
        self.tts_first_audio = Histogram(
            "openreplica_tts_first_audio_seconds",
            "TTS request (one sentence) to its first audio",
            buckets=_LATENCY,
            registry=registry,
        )
        self.interrupt_silence = Histogram(
            "openreplica_interrupt_silence_seconds",
            "Interruption to the end of the last replica audio handed out",
            buckets=_SILENCE,
            registry=registry,
        )
        self._events: dict[str, Counter] = {}
        self._live: _LiveCollector | None = None

    def track_live(self, census: Census) -> None:
        """Report live conversations and participants from `census` at each scrape."""
        if self._live is not None:  # a restarted lifespan replaces its hub
            self.registry.unregister(self._live)
        self._live = _LiveCollector(census)
        self.registry.register(self._live)

    def conversation(self, conversation_id: str) -> RuntimeObserver:
        """The observer a conversation's runtime reports to."""
        return _ConversationMetrics(self)

    def webhook_outcome(self, outcome: str) -> None:
        """`delivered`, `failed` (one attempt) or `given_up` (webhooks.py)."""
        if outcome == "failed":
            self.webhook_failures.inc()
        else:
            self.webhook_deliveries.labels(outcome).inc()

    def event_sent(self, event_type: str) -> None:
        child = self._events.get(event_type)  # one label lookup per type, not per event
        if child is None:
            child = self._events[event_type] = self.events_sent.labels(event_type)
        child.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _ConversationMetrics:
    """One conversation's timings in flight (start times by generation and segment)."""

    def __init__(self, metrics: ServerMetrics) -> None:
        self._m = metrics
        self._user_stopped: float | None = None
        self._llm: dict[int, float] = {}
        self._tts: dict[tuple[int, int], float] = {}

    def event_sent(self, event: Event, now: float) -> None:
        kind = event.event_type
        self._m.event_sent(kind)
        if kind == _USER_STOPPED:
            self._user_stopped = now
        elif kind == _USER_STARTED:
            self._user_stopped = None  # the user went on: no reply was due yet
        elif kind == _REPLICA_STARTED and self._user_stopped is not None:
            self._m.response_latency.observe(now - self._user_stopped)
            self._user_stopped = None

    def interaction_refused(self, code: str) -> None:
        self._m.interactions_refused.labels(code).inc()

    def plugin_failed(self, code: str) -> None:
        plugin = code.removesuffix("_unavailable") if code.endswith("_unavailable") else "other"
        self._m.plugin_failures.labels(plugin, code).inc()

    def llm_started(self, gen: int, now: float) -> None:
        self._llm[gen] = now

    def llm_first_token(self, gen: int, now: float) -> None:
        started = self._llm.pop(gen, None)
        if started is not None:
            self._m.llm_first_token.observe(now - started)

    def llm_ended(self, gen: int, now: float, error: str | None) -> None:
        self._llm.pop(gen, None)

    def tts_started(self, gen: int, segment: int, now: float) -> None:
        self._tts[gen, segment] = now

    def tts_first_audio(self, gen: int, segment: int, now: float) -> None:
        started = self._tts.pop((gen, segment), None)
        if started is not None:
            self._m.tts_first_audio.observe(now - started)

    def tts_ended(self, gen: int, segment: int, now: float, error: str | None) -> None:
        self._tts.pop((gen, segment), None)

    def playout_cut(self, gen: int, now: float, silent_at: float) -> None:
        self._m.interrupt_silence.observe(max(0.0, silent_at - now))

    def closed(self, now: float) -> None:
        self._llm.clear()
        self._tts.clear()
