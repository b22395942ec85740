"""Building the protocol events the engine emits, apart from deciding when to emit them.

Everything a generation causes carries its `turn_idx` and `inference_id` (SPEC §3.3,
§3.4); user and `system.*` events carry what the caller gives. Nothing here keeps state
except the replica's streaming `content_index`, which advances on the generation.
"""

from __future__ import annotations

from typing import Any

from openreplica.engine.generation import Generation
from openreplica.protocol import (
    Event,
    ReplicaInterrupted,
    ReplicaJoined,
    ReplicaJoinedProps,
    ReplicaPresent,
    ReplicaStartedSpeaking,
    ReplicaStoppedProps,
    ReplicaStoppedSpeaking,
    Role,
    RoleProps,
    Shutdown,
    ShutdownProps,
    StartedSpeaking,
    StoppedProps,
    StoppedSpeaking,
    StreamingProps,
    ToolCall,
    ToolCallProps,
    UserStartedSpeaking,
    UserStoppedSpeaking,
    Utterance,
    UtteranceProps,
    UtteranceStreaming,
)

__all__ = ["Events"]


class Events:
    """The event builders of one conversation."""

    __slots__ = ("conversation_id", "replica_id")

    def __init__(self, conversation_id: str, replica_id: str) -> None:
        self.conversation_id = conversation_id
        self.replica_id = replica_id

    # ------------------------------------------------------------------ system

    def joined(self) -> Event:
        return ReplicaJoined(
            conversation_id=self.conversation_id,
            properties=ReplicaJoinedProps(replica_id=self.replica_id),
        )

    def present(self) -> Event:
        return ReplicaPresent(
            conversation_id=self.conversation_id,
            properties=ReplicaJoinedProps(replica_id=self.replica_id),
        )

    def shutdown(self, reason: str) -> Event:
        return Shutdown(
            conversation_id=self.conversation_id,
            properties=ShutdownProps(shutdown_reason=reason),
        )

    # ------------------------------------------------------------------ the user

    def user_started(self) -> tuple[Event, Event]:
        """`user.started_speaking` and the role-agnostic one beside it."""
        return (
            UserStartedSpeaking(conversation_id=self.conversation_id),
            StartedSpeaking(
                conversation_id=self.conversation_id, properties=RoleProps(role="user")
            ),
        )

    def user_stopped(self, duration: float) -> tuple[Event, Event]:
        return (
            UserStoppedSpeaking(conversation_id=self.conversation_id),
            StoppedSpeaking(
                conversation_id=self.conversation_id,
                properties=self._stopped_props("user", duration, interrupted=False),
            ),
        )

    def user_utterance(self, turn_idx: int, props: UtteranceProps) -> Event:
        return Utterance(conversation_id=self.conversation_id, turn_idx=turn_idx, properties=props)

    def user_streaming(
        self, turn_idx: int, speech: str, content_index: int, *, final: bool
    ) -> Event:
        return UtteranceStreaming(
            conversation_id=self.conversation_id,
            turn_idx=turn_idx,
            properties=StreamingProps(
                role="user", speech=speech, content_index=content_index, final=final
            ),
        )

    # ------------------------------------------------------------------ a generation

    def replica_started(self, gen: Generation) -> tuple[Event, Event]:
        return (
            self._tagged(ReplicaStartedSpeaking, gen),
            self._tagged(StartedSpeaking, gen, properties=RoleProps(role="replica")),
        )

    def replica_stopped(
        self, gen: Generation, duration: float, *, interrupted: bool
    ) -> tuple[Event, Event]:
        return (
            self._tagged(
                ReplicaStoppedSpeaking,
                gen,
                properties=ReplicaStoppedProps(duration=duration, interrupted=interrupted),
            ),
            self._tagged(
                StoppedSpeaking,
                gen,
                properties=self._stopped_props("replica", duration, interrupted=interrupted),
            ),
        )

    def replica_interrupted(self, gen: Generation) -> Event:
        return self._tagged(ReplicaInterrupted, gen)

    def utterance(self, gen: Generation) -> Event:
        props = UtteranceProps(role="replica", speech=gen.text.strip())
        return self._tagged(Utterance, gen, properties=props)

    def streaming(
        self, gen: Generation, speech: str, *, final: bool, interrupted: bool = False
    ) -> Event:
        """The next streaming event of `gen` (its `content_index` advances)."""
        props = StreamingProps(
            role="replica",
            speech=speech,
            content_index=gen.content_index,
            final=final,
            is_interrupted=True if (final and interrupted) else None,
        )
        gen.content_index += 1
        return self._tagged(UtteranceStreaming, gen, properties=props)

    def tool_call(self, gen: Generation, call_id: str, name: str, arguments: str) -> Event:
        return self._tagged(
            ToolCall,
            gen,
            properties=ToolCallProps(name=name, arguments=arguments, tool_call_id=call_id),
        )

    # ------------------------------------------------------------------ helpers

    def _tagged(self, cls: type[Event], gen: Generation, **fields: Any) -> Event:
        return cls(
            conversation_id=self.conversation_id,
            turn_idx=gen.turn_idx,
            inference_id=gen.inference_id,
            **fields,
        )

    @staticmethod
    def _stopped_props(role: Role, duration: float, *, interrupted: bool) -> StoppedProps:
        return StoppedProps(role=role, interrupted=interrupted, duration=round(duration, 3))
