"""One replica generation: an LLM reply, an echo, or the greeting, from first token to
last played sample. Pure bookkeeping; the engine decides what to do with it. Its phases
(`words`, `voice`, `queue`) change only through the tables in `phases.py`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from openreplica.engine.phases import (
    GENERATION_QUEUE,
    GENERATION_VOICE,
    GENERATION_WORDS,
    Queue,
    QueueEvent,
    Voice,
    VoiceEvent,
    Words,
    WordsEvent,
)
from openreplica.engine.sentences import SentenceSplitter
from openreplica.engine.spoken import SpokenText

GenerationKind = Literal["reply", "echo_text", "echo_audio", "greeting"]


@dataclass(slots=True)
class Generation:
    gen: int
    inference_id: str
    turn_idx: int
    kind: GenerationKind
    spoken: SpokenText = field(default_factory=SpokenText)
    splitter: SentenceSplitter = field(default_factory=SentenceSplitter)
    #: everything generated so far (the replica `conversation.utterance` text)
    text: str = ""
    words: Words = Words.OPEN
    voice: Voice = Voice.QUIET
    queue: Queue = Queue.EMPTY
    next_segment: int = 0
    #: segments handed to TTS whose audio is not all in
    synthesizing: set[int] = field(default_factory=set)
    content_index: int = 0
    heard_sent: int = 0
    #: `now` when playout last drained (read in `Queue.DRAINED` only): the echo grace
    drained_at: float = 0.0
    tool_calls: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.kind == "reply":
            self.words = Words.LLM

    @property
    def interruptible(self) -> bool:
        """Only the greeting is spoken to its end whatever happens."""
        return self.kind != "greeting"

    @property
    def has_text(self) -> bool:
        return self.kind != "echo_audio"

    @property
    def started(self) -> bool:
        """Clients were told it speaks (its first audio was played)."""
        return self.voice is Voice.SPEAKING or self.voice is Voice.TOLD

    @property
    def finished_playing(self) -> bool:
        return (
            self.words is Words.COMPLETE
            and not self.synthesizing
            and self.queue is not Queue.PLAYING
            and self.spoken.queued_samples == 0
        )

    def on_words(self, event: WordsEvent) -> None:
        self.words = GENERATION_WORDS.fire(self.words, event)

    def on_voice(self, event: VoiceEvent) -> None:
        self.voice = GENERATION_VOICE.fire(self.voice, event)

    def on_queue(self, event: QueueEvent) -> None:
        self.queue = GENERATION_QUEUE.fire(self.queue, event)

    def new_segment(self, text: str) -> int:
        segment = self.next_segment
        self.next_segment += 1
        self.spoken.add_segment(segment, text)
        return segment
