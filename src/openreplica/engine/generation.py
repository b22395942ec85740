"""One replica generation: an LLM reply, an echo, or the greeting, from first token to
last played sample. Pure bookkeeping; the engine decides what to do with it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from openreplica.engine.sentences import SentenceSplitter
from openreplica.engine.spoken import SpokenText

GenerationKind = Literal["reply", "echo_text", "echo_audio", "greeting"]


@dataclass(slots=True)
class Generation:
    gen: int
    inference_id: str
    turn_idx: int
    kind: GenerationKind
    interruptible: bool = True
    spoken: SpokenText = field(default_factory=SpokenText)
    splitter: SentenceSplitter = field(default_factory=SentenceSplitter)
    #: everything generated so far (the replica `conversation.utterance` text)
    text: str = ""
    #: no more text or audio will be added (LLM finished, echo `done`)
    complete: bool = False
    llm_active: bool = False
    next_segment: int = 0
    synthesizing: set[int] = field(default_factory=set)
    started: bool = False
    utterance_sent: bool = False
    content_index: int = 0
    heard_sent: int = 0
    drained: bool = True
    #: `now` when playout last drained, for the audio-echo grace period
    drained_at: float | None = None
    tool_calls: list[str] = field(default_factory=list)

    @property
    def has_text(self) -> bool:
        return self.kind != "echo_audio"

    @property
    def finished_playing(self) -> bool:
        return (
            self.complete
            and not self.llm_active
            and not self.synthesizing
            and self.drained
            and self.spoken.queued_samples == 0
        )

    def new_segment(self, text: str) -> int:
        segment = self.next_segment
        self.next_segment += 1
        self.spoken.add_segment(segment, text)
        return segment
