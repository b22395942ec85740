"""`GET /metrics` after a scripted conversation against a real server process.

The replica answers with a stub OpenAI-compatible LLM (tests/support/stub_http.py) and
speaks with Piper; the same stub receives the webhooks (one path accepts, one fails).
The conversation: two answered turns, an interruption, a refused interaction and an LLM
failure. Every counter is checked against what the test saw happen.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from eventually import eventually
from prometheus_client.parser import text_string_to_metric_families
from stub_http import Reply, Request, StubServer, text_reply

from openreplica.client import ReplicaClient
from openreplica.protocol import ErrorEvent, ReplicaStoppedSpeaking

from .conftest import ServerProcess

LONG = " ".join(f"This is sentence number {n} of a long answer." for n in range(1, 9))

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(server: ServerProcess, **kw: object) -> Samples:
    response = httpx.get(server.url + "/metrics", **kw)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
async def stub() -> AsyncIterator[StubServer]:
    llm_calls = 0

    async def handle(request: Request) -> Reply:
        nonlocal llm_calls
        if request.path == "/hook":
            return Reply(200)
        if request.path == "/hook-broken":
            return Reply(500)
        llm_calls += 1
        if llm_calls == 1:
            return text_reply("Hello, I am the stub.")
        if llm_calls == 2:
            return text_reply(LONG)
        return Reply(500, body=b'{"error": {"message": "the model fell over"}}')

    server = StubServer(handle)
    await server.start()
    yield server
    await server.stop()


async def test_metrics_after_a_scripted_conversation(stub: StubServer, tmp_path: Path) -> None:
    server = ServerProcess(
        tmp_path / "data",
        env={
            "OPENREPLICA_TESTING_SCRIPTED_PLUGINS": "0",
            "OPENREPLICA_LLM_BASE_URL": stub.url + "/v1",
            "OPENREPLICA_LLM_MODEL": "stub",
            "OPENREPLICA_API_KEY": "sekret",
            "OPENREPLICA_WEBHOOK_MAX_ATTEMPTS": "2",
            "OPENREPLICA_WEBHOOK_RETRY_DELAY": "0.05",
        },
    )
    server.start()
    key = {"x-api-key": "sekret"}
    try:
        assert httpx.get(server.url + "/metrics").status_code == 401  # behind the API key
        before = scrape(server, headers=key)
        assert value(before, "openreplica_live_conversations") == 0

        async with ReplicaClient(server.url, api_key="sekret") as client:
            info = await client.create_conversation(callback_url=stub.url + "/hook")
            broken = await client.create_conversation(callback_url=stub.url + "/hook-broken")
            conv = await client.connect(info)
            received: Counter[str] = Counter()

            async def count() -> None:
                async for event in conv.events():
                    received[event.event_type] += 1

            counting = asyncio.create_task(count())
            try:
                await conv.ask("Hello there")
                live = scrape(server, headers=key)
                assert value(live, "openreplica_live_conversations") == 1
                assert value(live, "openreplica_participants") == 1

                started = conv.wait_for("conversation.replica.started_speaking")
                await conv.respond("Tell me a long story")
                await started
                stopped = conv.wait_for(
                    lambda e: isinstance(e, ReplicaStoppedSpeaking) and e.properties.interrupted
                )
                await conv.interrupt()
                await stopped

                refused = conv.wait_for("system.error")
                await conv.send_encoded(b"{this is not json")
                error = await refused
                assert isinstance(error, ErrorEvent) and error.properties.code == "invalid_json"

                failed = conv.wait_for(
                    lambda e: isinstance(e, ErrorEvent) and e.properties.code == "llm_unavailable"
                )
                await conv.respond("And now?")
                await failed
                mid = scrape(server, headers=key)
            finally:
                await conv.close()
                counting.cancel()
            for conversation in (info, broken):
                await client.end_conversation(conversation["conversation_id"])

        llm_requests = [r for r in stub.requests if r.path.endswith("/chat/completions")]
        assert len(llm_requests) == 3
        # two answered (first token seen), one failed
        assert value(mid, "openreplica_llm_first_token_seconds_count") == 2
        assert value(mid, "openreplica_tts_first_audio_seconds_count") >= 2
        assert value(mid, "openreplica_interrupt_silence_seconds_count") == 1
        # a cut is silent within the frame being played (20 ms)
        assert value(mid, "openreplica_interrupt_silence_seconds_sum") <= 0.0201
        assert value(mid, "openreplica_interactions_refused_total", code="invalid_json") == 1
        assert (
            value(mid, "openreplica_plugin_failures_total", plugin="llm", code="llm_unavailable")
            == 1
        )
        # every broadcast event the participant received was counted, once
        for event_type, n in received.items():
            if event_type.startswith("conversation."):
                sent = value(mid, "openreplica_events_sent_total", event_type=event_type)
                assert sent == n, event_type

        def webhooks_settled() -> bool:
            after = scrape(server, headers=key)
            hooks = [r for r in stub.requests if r.path.startswith("/hook")]
            done = value(after, "openreplica_webhook_deliveries_total", outcome="delivered")
            gave_up = value(after, "openreplica_webhook_deliveries_total", outcome="given_up")
            return bool(hooks) and done + 2 * gave_up == len(hooks) and gave_up > 0

        await eventually(webhooks_settled, timeout=20, message="webhook deliveries settled")
        after = scrape(server, headers=key)
        delivered = [r for r in stub.requests if r.path == "/hook"]
        broken_posts = [r for r in stub.requests if r.path == "/hook-broken"]
        assert value(after, "openreplica_webhook_deliveries_total", outcome="delivered") == len(
            delivered
        )
        assert value(after, "openreplica_webhook_failed_attempts_total") == len(broken_posts)
        assert value(after, "openreplica_webhook_deliveries_total", outcome="given_up") == (
            len(broken_posts) / 2
        )
        assert value(after, "openreplica_live_conversations") == 0
        assert value(after, "openreplica_participants") == 0
    finally:
        server.stop()


async def test_traces_go_to_an_otlp_endpoint(tmp_path: Path) -> None:
    """`--traces otlp`: the turns of a conversation reach an OTLP/HTTP receiver."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    async def receive(request: Request) -> Reply:
        return Reply(200, {"content-type": "application/x-protobuf"})

    collector = StubServer(receive)
    await collector.start()
    server = ServerProcess(
        tmp_path / "data",
        env={
            "OPENREPLICA_TRACES": "otlp",
            "OPENREPLICA_OTLP_ENDPOINT": collector.url + "/v1/traces",
        },
    )
    server.start()
    try:
        async with ReplicaClient(server.url) as client:
            conv = await client.connect(await client.create_conversation())
            try:
                await conv.ask("Hello there")
            finally:
                await conv.close()
        # the server flushes its spans as it stops (the collector answers meanwhile)
        await asyncio.to_thread(server.stop)
        names = []
        for request in collector.requests:
            assert request.path == "/v1/traces"
            export = ExportTraceServiceRequest.FromString(request.body)
            for resource in export.resource_spans:
                for scope in resource.scope_spans:
                    names += [span.name for span in scope.spans]
        assert names.count("turn") == 1 and names.count("llm") == 1
        assert names.count("tts") >= 1
    finally:
        server.stop()
        await collector.stop()
