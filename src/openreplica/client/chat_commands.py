"""The terminal client's input language: a typed line is what the user says; a line
starting with `/` is a command. Pure parsing, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from openreplica.protocol import SENSITIVITY_LEVELS, SensitivityLevel

__all__ = ["HELP", "ChatCommand", "parse_line"]

CommandKind = Literal[
    "respond", "interrupt", "echo", "context", "append", "sensitivity", "quit", "help", "none"
]

HELP = """\
  <text>                        say <text> to the replica (conversation.respond)
  /echo <text>                  make the replica say <text> verbatim (conversation.echo)
  /interrupt                    stop the replica speaking
  /context <text>               replace the conversational context
  /append <text>                append to the conversational context
  /sensitivity pause=L interrupt=L   turn-taking levels: superlow verylow low medium high
  /help                         this list
  /quit                         leave the conversation"""


@dataclass(frozen=True, slots=True)
class ChatCommand:
    """One parsed input line."""

    kind: CommandKind
    text: str = ""
    pause: SensitivityLevel | None = None
    interrupt: SensitivityLevel | None = None


_NEEDS_TEXT = {"echo": "/echo <text>", "context": "/context <text>", "append": "/append <text>"}
_ALIASES = {"q": "quit", "exit": "quit", "i": "interrupt", "h": "help", "?": "help"}


def parse_line(line: str) -> ChatCommand:
    """Parse one input line; raises `ValueError` with a usage hint when it is wrong."""
    stripped = line.strip()
    if not stripped:
        return ChatCommand("none")
    if not stripped.startswith("/"):
        return ChatCommand("respond", stripped)
    name, _, rest = stripped[1:].partition(" ")
    name = _ALIASES.get(name.lower(), name.lower())
    rest = rest.strip()
    if name in _NEEDS_TEXT:
        if not rest:
            raise ValueError(f"usage: {_NEEDS_TEXT[name]}")
        return ChatCommand(cast(CommandKind, name), rest)
    if name in ("interrupt", "quit", "help"):
        return ChatCommand(cast(CommandKind, name))
    if name == "sensitivity":
        return _sensitivity(rest)
    raise ValueError(f"unknown command /{name}; type /help")


def _sensitivity(rest: str) -> ChatCommand:
    usage = "usage: /sensitivity pause=LEVEL interrupt=LEVEL (one or both); LEVEL is " + ", ".join(
        SENSITIVITY_LEVELS
    )
    levels: dict[str, SensitivityLevel] = {}
    for part in rest.split():
        key, eq, value = part.partition("=")
        key = key.lower()
        if not eq or key not in ("pause", "interrupt") or value not in SENSITIVITY_LEVELS:
            raise ValueError(usage)
        levels[key] = value
    if not levels:
        raise ValueError(usage)
    return ChatCommand("sensitivity", pause=levels.get("pause"), interrupt=levels.get("interrupt"))
