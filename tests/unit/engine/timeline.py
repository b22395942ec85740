"""A tiny driver for engine tests: feed (time, input) steps, read back compact events."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from openreplica import protocol as p
from openreplica.engine import ConversationEngine, EngineSettings
from openreplica.engine import io as e

RATE = 24000
WORD = RATE // 5  # 200 ms of audio per word in these scripts
FRAME = RATE // 50  # 20 ms

X = TypeVar("X")


def interaction(data: str) -> e.InteractionReceived:
    return e.InteractionReceived(p.decode_interaction(data))


def respond(text: str) -> e.InteractionReceived:
    return e.InteractionReceived(p.Respond(properties=p.RespondProps(text=text)))


def echo(text: str, **props: Any) -> e.InteractionReceived:
    return e.InteractionReceived(p.Echo(properties=p.EchoProps(text=text, **props)))


INTERRUPT = e.InteractionReceived(p.Interrupt())


@dataclass
class Timeline:
    settings: EngineSettings = field(default_factory=EngineSettings)
    effects: list[e.Effect] = field(default_factory=list)

    def __post_init__(self) -> None:
        ids = itertools.count(1)
        self.engine = ConversationEngine("c1", self.settings, lambda: f"inf-{next(ids)}")

    def start(self, now: float = 0.0) -> list[e.Effect]:
        return self._keep(self.engine.start(now))

    def feed(self, item: e.EngineInput, now: float) -> list[e.Effect]:
        return self._keep(self.engine.handle(item, now))

    def tick(self, now: float) -> list[e.Effect]:
        return self._keep(self.engine.fire_timers(now))

    def _keep(self, effects: list[e.Effect]) -> list[e.Effect]:
        self.effects.extend(effects)
        return effects

    # --- a simulated TTS and playout that do what the engine asks -------------------

    def synthesize_all(self, effects: Iterable[e.Effect], now: float) -> list[e.Effect]:
        """Answer every Synthesize with 200 ms of audio per word, then segment done."""
        out: list[e.Effect] = []
        for effect in list(effects):
            if isinstance(effect, e.Synthesize):
                words = len(effect.text.split())
                pcm = b"\x01\x00" * (WORD * words)
                out += self.feed(e.SpeechAudio(effect.gen, effect.segment, pcm, RATE), now)
                out += self.feed(e.SpeechSegmentDone(effect.gen, effect.segment), now)
        return out

    def play(self, gen: int, segment: int, seconds: float, start: float) -> float:
        """Report `seconds` of playout in 20 ms frames; returns the time reached."""
        now = start
        for _ in range(round(seconds * 50)):
            now += 0.02
            self.feed(e.AudioPlayed(gen, segment, FRAME), now)
        return now

    def events(self, since: int = 0) -> list[tuple[Any, ...]]:
        return [compact(x.event) for x in self.effects[since:] if isinstance(x, e.Emit)]

    def of(self, kind: type[X]) -> list[X]:
        return [x for x in self.effects if isinstance(x, kind)]


def compact(event: p.Event) -> tuple[Any, ...]:
    """(event_type, turn_idx, inference_id, interesting properties…)."""
    props = getattr(event, "properties", None)
    detail: tuple[Any, ...] = ()
    if isinstance(props, p.StreamingProps):
        detail = (props.role, props.speech, props.content_index, props.final, props.is_interrupted)
    elif isinstance(props, p.UtteranceProps):
        detail = (props.role, props.speech)
    elif isinstance(props, p.ReplicaStoppedProps):
        detail = (round(props.duration, 2), props.interrupted)
    elif isinstance(props, p.StoppedProps):
        detail = (props.role, round(props.duration, 2), props.interrupted)
    elif isinstance(props, p.RoleProps):
        detail = (props.role,)
    elif isinstance(props, p.ToolCallProps):
        detail = (props.name, props.arguments, props.tool_call_id)
    elif props is not None:
        detail = tuple(getattr(props, name) for name in props.__struct_fields__)
    return (p.event_type_of(type(event)), event.turn_idx, event.inference_id, *detail)
