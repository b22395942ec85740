"""A conversation's transcript, built from its broadcast events (SPEC §6).

Pure and shared by the server (webhook `application.transcription_ready`, `GET
…?verbose=true`) and the client SDK. No I/O, no clock: every time comes from an event.

Rules:
- One entry per user turn: a `conversation.utterance` with role `user`. Its `duration`
  is how long the user spoke (`user.started_speaking` → `user.stopped_speaking` before
  it), 0 for a typed `conversation.respond`; `inference_id` is None.
- One entry per replica utterance (one `inference_id`), placed where it started: its
  `content` is what was actually played (the final `utterance.streaming` text, so a cut
  off reply holds only the words heard), else the full `conversation.utterance` text; its
  `timestamp` is `replica.started_speaking`, its `duration` the seconds of audio played
  (`replica.stopped_speaking`). An utterance of which nothing was said is left out.
- `seconds_from_start` counts from the conversation's first event (`system.replica_joined`).
- Events of other types, and unknown ones, are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import msgspec

from openreplica.protocol.events import (
    Event,
    ReplicaStartedSpeaking,
    ReplicaStoppedSpeaking,
    Role,
    UnknownEvent,
    UserStartedSpeaking,
    UserStoppedSpeaking,
    Utterance,
    UtteranceStreaming,
)

__all__ = ["TranscriptBuilder", "TranscriptEntry", "build_transcript", "is_replica_speech"]


class TranscriptEntry(msgspec.Struct, kw_only=True):
    """One line of the transcript; every key is always present (None as `null`)."""

    role: Role
    content: str
    timestamp: float
    seconds_from_start: float
    duration: float
    inference_id: str | None = None


@dataclass
class _Replica:
    inference_id: str
    timestamp: float
    utterance: str = ""
    streamed: str | None = None
    final: str | None = None
    duration: float = 0.0

    @property
    def content(self) -> str:
        if self.final is not None:
            return self.final
        return self.utterance or self.streamed or ""


@dataclass
class _User:
    content: str
    timestamp: float
    duration: float


def build_transcript(events: Iterable[Event | UnknownEvent]) -> list[TranscriptEntry]:
    """The transcript of these events (in `seq` order), oldest entry first."""
    builder = TranscriptBuilder()
    for event in events:
        builder.add(event)
    return builder.entries()


class TranscriptBuilder:
    """The transcript built event by event (in `seq` order), for a live view."""

    def __init__(self) -> None:
        self._start: float | None = None
        self._lines: list[_User | _Replica] = []
        self._replicas: dict[str, _Replica] = {}
        self._user_started: float | None = None
        self._user_spoke = 0.0

    def add(self, event: Event | UnknownEvent) -> None:
        if isinstance(event, UnknownEvent):
            return
        now = event.timestamp if event.timestamp is not None else (self._start or 0.0)
        if self._start is None:
            self._start = now
        if isinstance(event, UserStartedSpeaking):
            self._user_started = now
        elif isinstance(event, UserStoppedSpeaking):
            if self._user_started is not None:
                self._user_spoke += max(0.0, now - self._user_started)
            self._user_started = None
        elif isinstance(event, Utterance) and event.properties.role == "user":
            self._lines.append(_User(event.properties.speech, now, self._user_spoke))
            self._user_spoke = 0.0
        elif event.inference_id is not None and is_replica_speech(event):
            replica = self._replicas.get(event.inference_id)
            if replica is None:
                replica = _Replica(event.inference_id, now)
                self._replicas[event.inference_id] = replica
                self._lines.append(replica)
            _update(replica, event)

    def entries(self) -> list[TranscriptEntry]:
        """The transcript so far, oldest entry first."""
        origin = self._start or 0.0
        return [_entry(line, origin) for line in self._lines if _keep(line)]


def is_replica_speech(event: Event) -> bool:
    """One of the events that make up a replica utterance (joined by `inference_id`)."""
    if isinstance(event, Utterance | UtteranceStreaming):
        return event.properties.role == "replica"
    return isinstance(event, ReplicaStartedSpeaking | ReplicaStoppedSpeaking)


def _update(replica: _Replica, event: Event) -> None:
    if isinstance(event, ReplicaStartedSpeaking) and event.timestamp is not None:
        replica.timestamp = event.timestamp
    elif isinstance(event, Utterance):
        replica.utterance = event.properties.speech
    elif isinstance(event, UtteranceStreaming):
        replica.streamed = event.properties.speech
        if event.properties.final:
            replica.final = event.properties.speech
    elif isinstance(event, ReplicaStoppedSpeaking):
        replica.duration = event.properties.duration


def _keep(line: _User | _Replica) -> bool:
    return isinstance(line, _User) or bool(line.content.strip())


def _entry(line: _User | _Replica, origin: float) -> TranscriptEntry:
    if isinstance(line, _User):
        return TranscriptEntry(
            role="user",
            content=line.content,
            timestamp=line.timestamp,
            seconds_from_start=round(line.timestamp - origin, 3),
            duration=round(line.duration, 3),
        )
    return TranscriptEntry(
        role="replica",
        content=line.content,
        timestamp=line.timestamp,
        seconds_from_start=round(line.timestamp - origin, 3),
        duration=round(line.duration, 3),
        inference_id=line.inference_id,
    )
