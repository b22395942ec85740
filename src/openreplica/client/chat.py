"""`openreplica chat URL`: talk to a replica from the terminal.

Joins over the WebSocket data channel, prints live captions (turn and timing) as the
replica speaks, and reads typed lines: plain text is `conversation.respond`, `/`-lines
are commands (`/help`). Plain asyncio.

On a terminal, prompt_toolkit keeps the prompt line apart from the captions: finished
lines print above it, the caption being spoken grows on the line just above the input,
and typing never lands inside it. Otherwise (a pipe, a file) standard input is read by a
daemon thread so the event loop never blocks on it, and captions grow in place.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TextIO

from openreplica.client.captions import CaptionPrinter
from openreplica.client.chat_commands import HELP, ChatCommand, parse_line
from openreplica.client.client import connect
from openreplica.client.conversation import Conversation
from openreplica.client.errors import ClientError, ConnectionLost

__all__ = ["ChatOptions", "add_chat_command", "run_chat"]


@dataclass(frozen=True, slots=True)
class ChatOptions:
    url: str
    token: str | None = None
    api_key: str | None = None
    #: replay the conversation so far (`last_seq=0`) before going live
    replay: bool = False
    color: bool = False
    #: an interactive terminal: a prompt line apart from the captions (prompt_toolkit)
    prompt: bool = False


def add_chat_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `openreplica chat` on the CLI."""
    chat = commands.add_parser(
        "chat",
        help="join a conversation from the terminal",
        description="Join a conversation, print live captions as the replica speaks, and "
        "send what you type.",
        epilog="what you can type:\n" + HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    chat.add_argument(
        "url", help="the conversation_url (http://HOST:PORT/c/ID?t=TOKEN) or its WebSocket URL"
    )
    chat.add_argument("--token", help="meeting token, if not in the URL")
    chat.add_argument("--api-key", help="API key sent as x-api-key (default: $OPENREPLICA_API_KEY)")
    chat.add_argument(
        "--replay", action="store_true", help="show the conversation so far before going live"
    )
    chat.add_argument("--no-color", action="store_true", help="plain output")
    chat.set_defaults(run=_run_chat)


def _run_chat(args: argparse.Namespace) -> int:
    options = ChatOptions(
        url=args.url,
        token=args.token,
        api_key=args.api_key or os.environ.get("OPENREPLICA_API_KEY") or None,
        replay=args.replay,
        color=sys.stdout.isatty() and not args.no_color and "NO_COLOR" not in os.environ,
        prompt=sys.stdin.isatty() and sys.stdout.isatty(),
    )
    try:
        return asyncio.run(run_chat(options, sys.stdin, sys.stdout))
    except KeyboardInterrupt:
        return 130


async def run_chat(
    options: ChatOptions,
    stdin: TextIO,
    out: TextIO,
    *,
    join: Callable[[], Awaitable[Conversation]] | None = None,
) -> int:
    """Run the terminal client until `/quit`, end of input or the conversation's end.
    Returns the exit status (0, or 1 when the conversation could not be joined or
    was lost). `join` replaces connecting to `options.url` (tests)."""
    if options.prompt:
        return await _run_with_prompt(options, join)
    printer = CaptionPrinter(out, color=options.color)
    return await _chat(options, printer, lambda: _read_lines(stdin).get, join)


async def _run_with_prompt(
    options: ChatOptions, join: Callable[[], Awaitable[Conversation]] | None
) -> int:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.formatted_text import ANSI
    from prompt_toolkit.patch_stdout import patch_stdout

    session: PromptSession[str] = PromptSession()
    speaking = ""

    def show(caption: str) -> None:
        nonlocal speaking
        speaking = caption
        session.app.invalidate()

    def message() -> ANSI:
        if not speaking:
            return ANSI("> ")
        return ANSI(f"{_tail(speaking, session.app.output.get_size().columns - 1)}\n> ")

    async def next_line() -> str | None:
        try:
            return await session.prompt_async(message)
        except (EOFError, KeyboardInterrupt):  # Ctrl-D, Ctrl-C
            return None

    with patch_stdout(raw=True):
        printer = CaptionPrinter(sys.stdout, color=options.color, live=show)
        return await _chat(options, printer, lambda: next_line, join)


def _tail(caption: str, width: int) -> str:
    """The end of a caption too long for one line (the newest words stay in view)."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", caption)
    if width < 2 or len(plain) <= width:
        return caption
    return "…" + plain[len(plain) - width + 1 :]


async def _chat(
    options: ChatOptions,
    printer: CaptionPrinter,
    reader: Callable[[], Callable[[], Awaitable[str | None]]],
    join: Callable[[], Awaitable[Conversation]] | None,
) -> int:
    """Join, then show events and send typed lines (`reader()` gives the line source,
    started once joined) until either ends."""
    try:
        if join is not None:
            conv = await join()
        else:
            conv = await connect(
                options.url,
                token=options.token,
                api_key=options.api_key,
                last_seq=0 if options.replay else None,
            )
    except (ClientError, ValueError) as error:
        printer.problem(f"cannot join: {error}")
        return 1
    printer.info(f"joined {conv.conversation_id}: type to talk, /help for commands, /quit to leave")
    events = asyncio.create_task(_show_events(conv, printer))
    typing = asyncio.create_task(_handle_input(conv, reader(), printer))
    try:
        await asyncio.wait({events, typing}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        typing.cancel()
        await conv.close()
        await asyncio.gather(typing, return_exceptions=True)
    status = 0
    if events.done() and not events.cancelled() and events.exception() is not None:
        printer.problem(f"{events.exception()}")
        status = 1
    events.cancel()
    await asyncio.gather(events, return_exceptions=True)
    printer.info("bye")
    return status


async def _show_events(conv: Conversation, printer: CaptionPrinter) -> None:
    async for event in conv:
        printer.show(event)


async def _handle_input(
    conv: Conversation, next_line: Callable[[], Awaitable[str | None]], printer: CaptionPrinter
) -> None:
    while True:
        line = await next_line()
        if line is None:
            return  # end of input
        try:
            command = parse_line(line)
        except ValueError as error:
            printer.problem(str(error))
            continue
        if command.kind == "quit":
            return
        try:
            await _dispatch(conv, command, printer)
        except ValueError as error:
            printer.problem(str(error))
        except (ClientError, ConnectionLost) as error:
            printer.problem(f"not sent: {error}")
            return


async def _dispatch(conv: Conversation, command: ChatCommand, printer: CaptionPrinter) -> None:
    if command.kind == "respond":
        await conv.respond(command.text)
    elif command.kind == "echo":
        await conv.echo(command.text)
    elif command.kind == "interrupt":
        await conv.interrupt()
        printer.info("interrupt sent")
    elif command.kind == "context":
        await conv.overwrite_context(command.text)
        printer.info("context replaced")
    elif command.kind == "append":
        await conv.append_context(command.text)
        printer.info("context appended")
    elif command.kind == "sensitivity":
        await conv.set_sensitivity(pause=command.pause, interrupt=command.interrupt)
        levels = ", ".join(
            f"{k}={v}" for k, v in (("pause", command.pause), ("interrupt", command.interrupt)) if v
        )
        printer.info(f"sensitivity set: {levels}")
    elif command.kind == "help":
        printer.info("commands:\n" + HELP)


def _read_lines(stdin: TextIO) -> asyncio.Queue[str | None]:
    """Lines of `stdin`, read by a daemon thread (None at end of input)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:
        while True:
            try:
                line = stdin.readline()
            except (OSError, ValueError):
                line = ""
            with contextlib.suppress(RuntimeError):  # the loop has closed: we are done
                loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\n") if line else None)
            if not line:
                return

    threading.Thread(target=pump, name="chat-stdin", daemon=True).start()
    return queue
