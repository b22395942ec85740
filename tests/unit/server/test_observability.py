"""Per-turn traces and latency metrics from an in-process runtime on the virtual clock.

The LLM takes 0.1 s per token and the TTS 0.2 s per word of media, so every span time
and histogram value is known exactly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from openreplica import protocol as p
from openreplica.engine import EngineSettings
from openreplica.plugins.base import LLMUnavailable
from openreplica.plugins.scripted import ScriptedLLM, ScriptedTTS, text_deltas
from openreplica.runtime import ConversationRuntime, Observers, RuntimePlugins, VirtualClock
from openreplica.server.metrics import ServerMetrics
from openreplica.server.settings import ServerSettings, SettingsError
from openreplica.server.tracing import TurnTracer, check_tracing, tracer_provider

RATE = 16000
REPLY = "Hello there. How are you today?"  # 6 tokens, 2 sentences of 2 and 4 words


def sleeper(clock: VirtualClock) -> Callable[[float], Awaitable[None]]:
    return lambda seconds: clock.sleep_until(clock.now() + seconds)


async def run(
    llm_scripts: list[str | BaseException],
) -> tuple[ConversationRuntime, VirtualClock, InMemorySpanExporter, ServerMetrics]:
    clock = VirtualClock()
    exporter = InMemorySpanExporter()
    provider = tracer_provider(ServerSettings(), exporter)
    assert provider is not None
    metrics = ServerMetrics()
    scripts = [s if isinstance(s, BaseException) else text_deltas(s) for s in llm_scripts]
    runtime = ConversationRuntime(
        "c1",
        EngineSettings(output_sample_rate=RATE),
        RuntimePlugins(
            tts=ScriptedTTS(sample_rate=RATE, ms_per_word=200, sleep=sleeper(clock)),
            llm=ScriptedLLM(scripts, delay=0.1, sleep=sleeper(clock)),
        ),
        clock,
        observer=Observers([metrics.conversation("c1"), TurnTracer(provider).conversation("c1")]),
    )
    await runtime.start()
    return runtime, clock, exporter, metrics


def by_name(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return sorted((s for s in spans if s.name == name), key=lambda s: s.start_time or 0)


def seconds(ns: int | None) -> float:
    assert ns is not None
    return ns / 1e9


def sample(metrics: ServerMetrics, name: str) -> float:
    value = metrics.registry.get_sample_value(name)
    assert value is not None, name
    return value


async def test_one_turn_is_a_span_with_llm_and_tts_children() -> None:
    runtime, clock, exporter, metrics = await run([REPLY])
    asked = clock.now()
    runtime.submit(p.Respond(properties=p.RespondProps(text="Hi")))
    await clock.advance(10.0)
    await runtime.shutdown("done")

    spans = exporter.get_finished_spans()
    [turn] = by_name(spans, "turn")
    [llm] = by_name(spans, "llm")
    tts = by_name(spans, "tts")
    assert len(tts) == 2  # one per sentence
    for child in (llm, *tts):
        assert child.parent is not None and child.parent.span_id == turn.context.span_id
        assert child.context.trace_id == turn.context.trace_id
    assert seconds(turn.start_time) == pytest.approx(asked)
    assert seconds(llm.start_time) == pytest.approx(asked)
    assert seconds(llm.end_time) - asked == pytest.approx(0.6)  # 6 tokens x 0.1 s
    [first_token] = llm.events
    assert first_token.name == "first_token"
    assert seconds(first_token.timestamp) - asked == pytest.approx(0.1)
    for span in tts:
        [first_audio] = span.events
        assert seconds(first_audio.timestamp) - seconds(span.start_time) == pytest.approx(0.2)
        assert span.status.status_code != StatusCode.ERROR
    assert [s.attributes["openreplica.segment"] for s in tts] == [0, 1]  # type: ignore[index]
    assert turn.attributes is not None
    assert turn.attributes["openreplica.turn_idx"] == 1
    assert turn.attributes["openreplica.interrupted"] is False
    # the turn lasts until its last audio: 6 words x 0.2 s after the first audio
    heard = next(e for e in turn.events if e.name == "first_audio")
    assert seconds(turn.end_time) - seconds(heard.timestamp) == pytest.approx(1.2, abs=0.021)

    assert sample(metrics, "openreplica_llm_first_token_seconds_count") == 1
    assert sample(metrics, "openreplica_llm_first_token_seconds_sum") == pytest.approx(0.1)
    assert sample(metrics, "openreplica_tts_first_audio_seconds_count") == 2
    assert sample(metrics, "openreplica_tts_first_audio_seconds_sum") == pytest.approx(0.4)


async def test_an_interrupted_turn_and_a_failed_one() -> None:
    runtime, clock, exporter, metrics = await run([REPLY, LLMUnavailable("the model fell over")])
    runtime.submit(p.Respond(properties=p.RespondProps(text="Hi")))
    await clock.advance(0.5)  # speaking: first audio at 0.1 + 0.2 s
    runtime.submit(p.Interrupt())
    runtime.submit(p.Respond(properties=p.RespondProps(text="Again")))
    await clock.advance(2.0)
    await runtime.shutdown("done")

    first, failed = by_name(exporter.get_finished_spans(), "turn")
    assert first.attributes is not None and first.attributes["openreplica.interrupted"] is True
    [cut] = [e for e in first.events if e.name == "interrupted"]
    assert cut.attributes is not None
    assert 0 <= float(cut.attributes["silence_after_s"]) <= 0.02  # type: ignore[arg-type]
    assert failed.status.status_code == StatusCode.ERROR
    assert "the model fell over" in (failed.status.description or "")
    assert sample(metrics, "openreplica_interrupt_silence_seconds_count") == 1
    assert (
        metrics.registry.get_sample_value(
            "openreplica_plugin_failures_total", {"plugin": "llm", "code": "llm_unavailable"}
        )
        == 1
    )


def test_response_latency_pairs_the_end_of_user_speech_with_the_first_audio() -> None:
    metrics = ServerMetrics()
    observer = metrics.conversation("c1")
    observer.event_sent(p.UserStoppedSpeaking(conversation_id="c1"), 100.0)
    observer.event_sent(p.ReplicaStartedSpeaking(conversation_id="c1"), 100.75)
    observer.event_sent(p.ReplicaStartedSpeaking(conversation_id="c1"), 101.0)  # no turn
    observer.event_sent(p.UserStoppedSpeaking(conversation_id="c1"), 110.0)
    observer.event_sent(p.UserStartedSpeaking(conversation_id="c1"), 110.2)  # went on
    observer.event_sent(p.ReplicaStartedSpeaking(conversation_id="c1"), 111.0)
    assert sample(metrics, "openreplica_response_latency_seconds_count") == 1
    assert sample(metrics, "openreplica_response_latency_seconds_sum") == pytest.approx(0.75)
    assert (
        metrics.registry.get_sample_value(
            "openreplica_events_sent_total", {"event_type": "conversation.replica.started_speaking"}
        )
        == 3
    )


def test_two_servers_keep_their_own_registries() -> None:
    one, two = ServerMetrics(), ServerMetrics()
    one.webhook_outcome("delivered")
    assert (
        one.registry.get_sample_value(
            "openreplica_webhook_deliveries_total", {"outcome": "delivered"}
        )
        == 1
    )
    assert (
        two.registry.get_sample_value(
            "openreplica_webhook_deliveries_total", {"outcome": "delivered"}
        )
        is None
    )


def test_otlp_without_its_exporter_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    from openreplica.server import tracing

    settings = ServerSettings(traces="otlp")
    check_tracing(settings)  # the dev install has the exporter
    # without it (a plain install): a clear error before the server starts
    monkeypatch.setattr(tracing, "_installed", lambda module: "otlp" not in module)
    with pytest.raises(SettingsError, match=r"openreplica\[otel\]"):
        settings.check()
    assert tracer_provider(ServerSettings()) is None  # off by default
