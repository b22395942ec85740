"""One respond turn driven straight through the engine, with no event loop and no models
(respond, the reply's tokens, synthesis, 1 s of playout reports per segment, the end):
the pure state machine's cost. Shared by bench/engine.py (wall clock) and
bench/before_after.py (thread CPU time), so it imports only what both source trees
before_after compares have: the protocol, the engine and its inputs and effects."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from openreplica import protocol as p
from openreplica.engine import ConversationEngine, EngineSettings
from openreplica.engine import io as e


def engine_turn_ms(runs: int, reply: str, rate: int, timer: Callable[[], float]) -> list[float]:
    """ms of `timer` per turn, one sample per run."""
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
