"""Live captions for the terminal client: events in, readable text out.

Each replica utterance opens a caption line at `replica.started_speaking`
(`[turn 1 +4.0s] replica: `), grows word by word with `utterance.streaming` as the
audio plays, and closes at `replica.stopped_speaking` with its duration (and whether it
was cut off). User turns, tool calls, errors and the shutdown get a line each.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TextIO

from openreplica.protocol import (
    ErrorEvent,
    Event,
    PerceptionToolCall,
    ReplicaJoined,
    ReplicaStartedSpeaking,
    ReplicaStoppedSpeaking,
    Shutdown,
    ToolCall,
    UnknownEvent,
    UserStartedSpeaking,
    Utterance,
    UtteranceStreaming,
)

__all__ = ["CaptionPrinter"]

_RESET = "\033[0m"
_STYLES = {"dim": "\033[2m", "bold": "\033[1m", "red": "\033[31m", "cyan": "\033[36m"}


class CaptionPrinter:
    """Writes captions for events given in `seq` order."""

    def __init__(
        self, out: TextIO, *, color: bool = False, live: Callable[[str], None] | None = None
    ) -> None:
        self.out = out
        self.color = color
        #: whole lines only: the caption being spoken goes to `live` (a status line under
        #: the prompt) as it grows, and to `out` once it is complete
        self._live = live
        self._growing = ""
        self._start: float | None = None
        self._open: str | None = None  # inference_id of the caption line being written
        self._shown = ""  # text already written on it

    def _style(self, text: str, style: str) -> str:
        return f"{_STYLES[style]}{text}{_RESET}" if self.color else text

    def _stamp(self, event: Event | UnknownEvent) -> str:
        when = event.timestamp
        if when is not None and self._start is None:
            self._start = when
        offset = 0.0 if when is None or self._start is None else when - self._start
        turn = "" if event.turn_idx is None else f"turn {event.turn_idx} "
        return self._style(f"[{turn}+{offset:.1f}s]", "dim")

    def _line(self, text: str) -> None:
        if self._live is None:  # the caption is on the last line: end it first
            self._close_caption()
        self.out.write(text + "\n")
        self.out.flush()

    def _close_caption(self, suffix: str = "") -> None:
        if self._open is not None:
            if self._live is not None:
                self.out.write(self._growing)
                self._growing = ""
                self._live("")
            self.out.write(suffix + "\n")
            self._open, self._shown = None, ""

    def _caption(self, text: str) -> None:
        """More of the caption being spoken."""
        if self._live is None:
            self.out.write(text)
        else:
            self._growing += text
            self._live(self._growing)

    def info(self, text: str) -> None:
        """A line from the client itself (not an event)."""
        self._line(self._style(f"* {text}", "cyan"))

    def problem(self, text: str) -> None:
        self._line(self._style(f"! {text}", "red"))

    def show(self, event: Event | UnknownEvent) -> None:
        """Print what this event means for the person at the terminal."""
        if isinstance(event, ReplicaJoined):
            self._stamp(event)
            self.info(f"replica {event.properties.replica_id} joined")
        elif isinstance(event, ReplicaStartedSpeaking):
            self._close_caption()
            self._caption(f"{self._stamp(event)} {self._style('replica:', 'bold')} ")
            self._open, self._shown = event.inference_id, ""
        elif isinstance(event, UtteranceStreaming) and event.properties.role == "replica":
            self._stream(event)
        elif isinstance(event, ReplicaStoppedSpeaking):
            stopped = event.properties
            note = f"{stopped.duration:.1f}s"
            if stopped.interrupted:
                note = f"interrupted after {note}"
            if self._open == event.inference_id:
                self._close_caption(self._style(f"  ({note})", "dim"))
            else:
                self._line(f"{self._stamp(event)} replica stopped ({note})")
        elif isinstance(event, UserStartedSpeaking):
            self._line(f"{self._stamp(event)} (you are speaking…)")
        elif isinstance(event, Utterance) and event.properties.role == "user":
            who = self._style("you:", "bold")
            self._line(f"{self._stamp(event)} {who} {event.properties.speech}")
        elif isinstance(event, ToolCall):
            call = event.properties
            self._line(
                f"{self._stamp(event)} tool call {call.name}({_compact(call.arguments)}) "
                f"id={call.tool_call_id}"
            )
        elif isinstance(event, PerceptionToolCall):
            self._line(f"{self._stamp(event)} perception tool call {event.properties.name}")
        elif isinstance(event, ErrorEvent):
            error = event.properties
            about = f" ({error.event_type})" if error.event_type else ""
            self.problem(f"error {error.code}{about}: {error.message}")
        elif isinstance(event, Shutdown):
            self._stamp(event)
            self.info(f"conversation ended: {event.properties.shutdown_reason}")
        else:
            self._stamp(event)
        self.out.flush()

    def _stream(self, event: UtteranceStreaming) -> None:
        speech = event.properties.speech
        if self._open != event.inference_id:  # joined mid-utterance
            self._close_caption()
            self._caption(f"{self._stamp(event)} {self._style('replica:', 'bold')} ")
            self._open, self._shown = event.inference_id, ""
        if speech.startswith(self._shown):
            self._caption(speech[len(self._shown) :])
            self._shown = speech
        elif speech != self._shown:  # a correction: restate the caption
            self._caption(" … " + speech)
            self._shown = speech
        if event.properties.is_interrupted:
            self._caption(self._style(" —", "dim"))


def _compact(arguments: str) -> str:
    try:
        return json.dumps(json.loads(arguments), ensure_ascii=False)
    except ValueError:
        return arguments
