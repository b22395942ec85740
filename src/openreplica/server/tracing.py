"""OpenTelemetry traces, one per turn (opt-in: `--traces otlp`).

A `turn` span runs from the LLM request of a reply (a `respond`, or a committed spoken
turn) until the replica stops speaking it, is cut, or the next turn begins; its children
are the `llm` stream (event `first_token`) and one `tts` span per synthesised sentence
(event `first_audio`). Span times are the runtime's clock, passed in by the observer.

The tracer provider belongs to the app, not the process (no global provider is set), and
needs the `otel` extra (opentelemetry-sdk); OTLP export also needs
opentelemetry-exporter-otlp. Tests pass an in-memory exporter to `create_app`.
"""

from __future__ import annotations

import asyncio
import importlib.util
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from openreplica.protocol import Event, ReplicaStartedSpeaking, ReplicaStoppedSpeaking
from openreplica.runtime import RuntimeObserver
from openreplica.server.settings import ServerSettings, SettingsError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Tracer

__all__ = ["TurnTracer", "check_tracing", "tracer_provider"]

_OTLP_MODULE = "opentelemetry.exporter.otlp.proto.http.trace_exporter"
_INSTALL_SDK = "pip install 'openreplica[otel]'"
_INSTALL_OTLP = "pip install 'openreplica[otel]' (opentelemetry-exporter-otlp-proto-http)"


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a missing parent package
        return False


def check_tracing(settings: ServerSettings) -> None:
    """Refuse `--traces otlp` when the packages it needs are missing (at start)."""
    if settings.traces == "off":
        return
    if not _installed("opentelemetry.sdk.trace"):
        raise SettingsError(f"--traces {settings.traces} needs opentelemetry-sdk: {_INSTALL_SDK}")
    if settings.traces == "otlp" and not _installed(_OTLP_MODULE):
        raise SettingsError(
            f"--traces otlp needs the OTLP exporter: {_INSTALL_OTLP} (or set --traces off)"
        )


def tracer_provider(
    settings: ServerSettings, exporter: SpanExporter | None = None
) -> TracerProvider | None:
    """The app's provider: `exporter` (tests), else from the settings; None = no traces."""
    if exporter is None and settings.traces == "off":
        return None
    check_tracing(settings)
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "openreplica"}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        import importlib

        otlp = importlib.import_module(_OTLP_MODULE)
        provider.add_span_processor(
            BatchSpanProcessor(otlp.OTLPSpanExporter(endpoint=settings.otlp_endpoint))
        )
    return provider


def _ns(seconds: float) -> int:
    return round(seconds * 1e9)


class TurnTracer:
    def __init__(self, provider: TracerProvider) -> None:
        from openreplica import __version__

        self._tracer = provider.get_tracer("openreplica", __version__)

    def conversation(self, conversation_id: str) -> RuntimeObserver:
        return _ConversationTrace(self._tracer, conversation_id)


@dataclass
class _Step:
    """One LLM stream or one sentence's synthesis: its times, as plain numbers."""

    start: float
    first: float | None = None
    end: float | None = None
    error: str | None = None


@dataclass
class _Turn:
    gen: int
    start: float
    llm: _Step | None = None
    tts: dict[int, _Step] = field(default_factory=dict)
    #: when its audio began (so the next replica.stopped_speaking is its own)
    heard: float | None = None
    turn_idx: int | None = None
    cut: tuple[float, float] | None = None  # (when, silence after)
    failures: list[tuple[float, str]] = field(default_factory=list)


class _ConversationTrace:
    """Collects a turn's times as plain numbers and makes its spans once it is over,
    after the work already scheduled: span bookkeeping never sits between a reply and
    its first audio, or between an interruption and the silence."""

    def __init__(self, tracer: Tracer, conversation_id: str) -> None:
        self._tracer = tracer
        self._conversation_id = conversation_id
        self._turn: _Turn | None = None

    def _end_turn(self, now: float, *, interrupted: bool = False, later: bool = True) -> None:
        turn, self._turn = self._turn, None
        if turn is None:
            return
        if later:  # two loop turns on: after the sends the current step has woken
            loop = asyncio.get_running_loop()
            loop.call_soon(loop.call_soon, self._export, turn, now, interrupted)
        else:
            self._export(turn, now, interrupted)

    def _export(self, turn: _Turn, end: float, interrupted: bool) -> None:
        from opentelemetry import trace
        from opentelemetry.trace import Status, StatusCode

        ids: dict[str, str | int] = {"openreplica.conversation_id": self._conversation_id}
        span = self._tracer.start_span("turn", start_time=_ns(turn.start), attributes=ids)
        context = trace.set_span_in_context(span)
        steps: list[tuple[str, int | None, _Step]] = []
        if turn.llm is not None:
            steps.append(("llm", None, turn.llm))
        steps += [("tts", segment, step) for segment, step in sorted(turn.tts.items())]
        for name, segment, step in steps:
            attributes = ids if segment is None else {**ids, "openreplica.segment": segment}
            child = self._tracer.start_span(
                name, context=context, start_time=_ns(step.start), attributes=attributes
            )
            if step.first is not None:
                first = "first_token" if name == "llm" else "first_audio"
                child.add_event(first, timestamp=_ns(step.first))
            if step.error is not None:
                child.set_status(Status(StatusCode.ERROR, step.error))
            child.end(end_time=_ns(step.end if step.end is not None else end))
        if turn.heard is not None:
            span.add_event("first_audio", timestamp=_ns(turn.heard))
        if turn.turn_idx is not None:
            span.set_attribute("openreplica.turn_idx", turn.turn_idx)
        if turn.cut is not None:
            span.add_event("interrupted", {"silence_after_s": turn.cut[1]}, _ns(turn.cut[0]))
        for when, code in turn.failures:
            span.add_event("plugin_failed", {"code": code}, _ns(when))
        if turn.llm is not None and turn.llm.error is not None:
            span.set_status(Status(StatusCode.ERROR, turn.llm.error))
        span.set_attribute("openreplica.interrupted", interrupted)
        span.end(end_time=_ns(end))

    def _current(self, gen: int) -> _Turn | None:
        turn = self._turn
        return turn if turn is not None and turn.gen == gen else None

    def event_sent(self, event: Event, now: float) -> None:
        turn = self._turn
        if turn is None:
            return
        if isinstance(event, ReplicaStartedSpeaking) and turn.heard is None:
            turn.heard = now
            turn.turn_idx = event.turn_idx
        elif isinstance(event, ReplicaStoppedSpeaking) and turn.heard is not None:
            self._end_turn(now, interrupted=event.properties.interrupted)

    def interaction_refused(self, code: str) -> None:
        pass

    def plugin_failed(self, code: str) -> None:
        pass  # recorded with its time by llm_ended / tts_ended

    def llm_started(self, gen: int, now: float) -> None:
        self._end_turn(now)
        self._turn = _Turn(gen, now, llm=_Step(now))

    def llm_first_token(self, gen: int, now: float) -> None:
        turn = self._current(gen)
        if turn is not None and turn.llm is not None:
            turn.llm.first = now

    def llm_ended(self, gen: int, now: float, error: str | None) -> None:
        turn = self._current(gen)
        if turn is None or turn.llm is None or turn.llm.end is not None:
            return
        turn.llm.end, turn.llm.error = now, error
        if error is not None:
            turn.failures.append((now, "llm"))
            if not turn.tts:
                self._end_turn(now)  # nothing will be said

    def tts_started(self, gen: int, segment: int, now: float) -> None:
        turn = self._current(gen)
        if turn is not None:
            turn.tts[segment] = _Step(now)

    def tts_first_audio(self, gen: int, segment: int, now: float) -> None:
        turn = self._current(gen)
        step = turn.tts.get(segment) if turn is not None else None
        if step is not None:
            step.first = now

    def tts_ended(self, gen: int, segment: int, now: float, error: str | None) -> None:
        turn = self._current(gen)
        step = turn.tts.get(segment) if turn is not None else None
        if step is not None and step.end is None:
            step.end, step.error = now, error
            if error is not None and turn is not None:
                turn.failures.append((now, "tts"))

    def playout_cut(self, gen: int, now: float, silent_at: float) -> None:
        turn = self._current(gen)
        if turn is not None:
            turn.cut = (now, max(0.0, silent_at - now))

    def closed(self, now: float) -> None:
        self._end_turn(now, later=False)
