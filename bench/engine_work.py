"""The engine's and the sequencer's work with no event loop and no models, timed with the
caller's clock: shared by bench/engine.py (wall clock) and bench/before_after.py (thread
CPU time), so it imports only what both source trees before_after compares have: the
protocol, the engine and its inputs and effects."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from openreplica import protocol as p
from openreplica.engine import ConversationEngine, EngineSettings
from openreplica.engine import io as e


def engine_turn_ms(runs: int, reply: str, rate: int, timer: Callable[[], float]) -> list[float]:
    """One respond turn driven straight through the engine (respond, the reply's tokens,
    synthesis, 1 s of playout reports per segment, the end): ms of `timer` per turn, one
    sample per run."""
    samples = []
    frame = rate // 50
    for _ in range(runs):
        ids = itertools.count()
        engine = ConversationEngine(
            "bench", EngineSettings(output_sample_rate=rate), lambda ids=ids: f"i{next(ids)}"
        )
        engine.start(0.0)
        start = timer()
        engine.handle(e.InteractionReceived(p.Respond(properties=p.RespondProps(text="Hi"))), 0.0)
        gen = 1
        segments = []
        for token in reply.split(" "):
            for fx in engine.handle(e.LLMToken(gen, token + " "), 0.0):
                if isinstance(fx, e.Synthesize):
                    segments.append(fx.segment)
        for fx in engine.handle(e.LLMFinished(gen), 0.0):
            if isinstance(fx, e.Synthesize):
                segments.append(fx.segment)
        for segment in segments:
            engine.handle(e.SpeechAudio(gen, segment, b"\0\0" * rate, rate), 0.0)
            engine.handle(e.SpeechSegmentDone(gen, segment), 0.0)
            for _ in range(50):
                engine.handle(e.AudioPlayed(gen, segment, frame), 0.0)
        engine.handle(e.PlayoutDrained(gen), 0.0)
        samples.append((timer() - start) * 1000)
    return samples


def sequencer_fanout_s(events: int, subscribers: int, timer: Callable[[], float]) -> float:
    """Seconds of `timer` to stamp and encode `events` streaming events on a fresh
    sequencer and hand each to `subscribers` sinks."""
    sequencer = p.Sequencer("bench")
    sinks: list[list[bytes]] = [[] for _ in range(subscribers)]
    event = p.UtteranceStreaming(
        conversation_id="bench",
        turn_idx=1,
        inference_id="inf",
        properties=p.StreamingProps(
            role="replica", speech="Hello there", content_index=1, final=False
        ),
    )
    start = timer()
    for i in range(events):
        data = p.encode(sequencer.stamp(event, float(i)))
        for sink in sinks:
            sink.append(data)
    return timer() - start
