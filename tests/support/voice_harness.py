"""A runtime on a virtual clock that listens: user audio is pushed in real-time-sized
chunks while the clock advances by the same amount, as a live microphone would."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, TypeVar

from openreplica import protocol as p
from openreplica.engine import EngineSettings
from openreplica.engine import io as e
from openreplica.plugins.base import LLM, TTS, ASRModel, EndOfTurnModel, VADModel
from openreplica.runtime import ConversationRuntime, RuntimePlugins, VirtualClock
from openreplica.runtime.voice import VoiceSettings

RATE = 16000
CHUNK = 0.02

E = TypeVar("E", bound=p.Event)


@dataclass
class Listening:
    runtime: ConversationRuntime
    clock: VirtualClock
    t0: float
    events: list[tuple[float, p.Event]] = field(default_factory=list)
    #: seconds of user audio pushed so far
    pushed: float = 0.0

    def of(self, kind: type[E]) -> list[tuple[float, E]]:
        return [(t, x) for t, x in self.events if isinstance(x, kind)]

    def names(self) -> list[str]:
        return [p.event_type_of(type(x)) for _, x in self.events]

    def user_utterances(self) -> list[tuple[float, str]]:
        return [
            (t, x.properties.speech) for t, x in self.of(p.Utterance) if x.properties.role == "user"
        ]

    def errors(self) -> list[p.ErrorEvent]:
        return [x for _, x in self.of(p.ErrorEvent)]

    async def push(
        self, pcm: bytes, rate: int = RATE, channels: int = 1, chunk: float = CHUNK
    ) -> None:
        """Feed audio as a microphone would: each chunk once it has been recorded."""
        step = round(rate * chunk) * 2 * channels
        for i in range(0, len(pcm), step):
            piece = pcm[i : i + step]
            seconds = len(piece) / (2 * channels * rate)
            await self.clock.advance(seconds)
            self.pushed += seconds
            self.runtime.push_user_audio(piece, rate, channels)
            # Recognition takes no virtual time: let the recogniser catch up (a real
            # one may work in a thread) before the clock moves on.
            if self.runtime.voice is not None:
                await self.runtime.voice.drain()
        await self.clock.advance(0)

    async def push_after_stall(self, pcm: bytes, rate: int = RATE, chunk: float = CHUNK) -> None:
        """The event loop was busy while `pcm` was recorded: the clock moves on by its
        length, then its chunks arrive one after another, each handled before the next
        (as a transport drains its queue), with no time passing."""
        await self.clock.advance(len(pcm) / (2 * rate))
        step = round(rate * chunk) * 2
        for i in range(0, len(pcm), step):
            self.pushed += len(pcm[i : i + step]) / (2 * rate)
            self.runtime.push_user_audio(pcm[i : i + step], rate)
            if self.runtime.voice is not None:
                await self.runtime.voice.drain()

    def respond(self, text: str) -> None:
        self.runtime.submit(p.Respond(properties=p.RespondProps(text=text)))

    def record_inputs(self) -> list[e.EngineInput]:
        """From now on, every input the runtime feeds its engine, recorded on the way."""
        seen: list[e.EngineInput] = []
        feed = self.runtime.feed

        def recording(item: e.EngineInput) -> None:
            seen.append(item)
            feed(item)

        self.runtime.feed = recording  # type: ignore[method-assign]
        return seen


async def listening(
    *,
    tts: TTS,
    llm: LLM,
    vad: VADModel | None,
    asr: ASRModel | None,
    output_rate: int = RATE,
    voice: VoiceSettings | None = None,
    turn: EndOfTurnModel | None = None,
    **settings: Any,
) -> Listening:
    clock = VirtualClock()
    ids = itertools.count(1)
    runtime = ConversationRuntime(
        "c1",
        EngineSettings(output_sample_rate=output_rate, **settings),
        RuntimePlugins(tts=tts, llm=llm, asr=asr, vad=vad, turn=turn),
        clock,
        new_inference_id=lambda: f"inf-{next(ids)}",
        voice=voice,
    )
    h = Listening(runtime, clock, clock.now())
    runtime.subscribe(lambda event, _: h.events.append((clock.now(), event)))
    await runtime.start()
    return h


def set_sensitivity(h: Listening, pause: str | None = None, interrupt: str | None = None) -> None:
    props = p.SensitivityProps(
        participant_pause_sensitivity=pause,  # type: ignore[arg-type]
        participant_interrupt_sensitivity=interrupt,  # type: ignore[arg-type]
    )
    h.runtime.submit(p.Sensitivity(properties=props))
