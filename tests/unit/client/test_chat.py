"""The terminal client: command parsing, captions, and a session over a fake server."""

from __future__ import annotations

import asyncio
import io
import json
import os

import pytest

from openreplica.client import Conversation
from openreplica.client.captions import CaptionPrinter
from openreplica.client.chat import ChatOptions, run_chat
from openreplica.client.chat_commands import ChatCommand, parse_line
from openreplica.client.testing import FakeServer
from openreplica.protocol import decode_event
from openreplica.runtime.clock import settle


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("hello there ", ChatCommand("respond", "hello there")),
        ("", ChatCommand("none")),
        ("/echo Say this.", ChatCommand("echo", "Say this.")),
        ("/interrupt", ChatCommand("interrupt")),
        ("/i", ChatCommand("interrupt")),
        ("/context You are kind.", ChatCommand("context", "You are kind.")),
        ("/append More.", ChatCommand("append", "More.")),
        (
            "/sensitivity pause=high interrupt=low",
            ChatCommand("sensitivity", pause="high", interrupt="low"),
        ),
        ("/sensitivity interrupt=superlow", ChatCommand("sensitivity", interrupt="superlow")),
        ("/QUIT", ChatCommand("quit")),
        ("/help", ChatCommand("help")),
    ],
)
def test_parse_line(line: str, command: ChatCommand) -> None:
    assert parse_line(line) == command


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("/echo", "usage: /echo <text>"),
        ("/context   ", "usage: /context <text>"),
        ("/sensitivity", "usage: /sensitivity"),
        ("/sensitivity pause=loud", "usage: /sensitivity"),
        ("/sensitivity speed=high", "usage: /sensitivity"),
        ("/dance", "unknown command /dance"),
    ],
)
def test_parse_errors(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        parse_line(line)


def event(
    seq: int | None,
    event_type: str,
    t: float,
    props: dict[str, object] | None = None,
    turn: int | None = None,
    inf: str | None = None,
) -> object:
    message: dict[str, object] = {
        "event_type": event_type,
        "conversation_id": "c1",
        "timestamp": 100.0 + t,
        "message_type": "conversation",
    }
    for key, value in (
        ("seq", seq),
        ("turn_idx", turn),
        ("inference_id", inf),
        ("properties", props),
    ):
        if value is not None:
            message[key] = value
    return decode_event(json.dumps(message))


def test_captions_grow_word_by_word_and_close_with_timing() -> None:
    out = io.StringIO()
    printer = CaptionPrinter(out)
    R = "conversation.replica"
    for e in [
        event(1, "system.replica_joined", 0, {"replica_id": "r1"}),
        event(2, "conversation.utterance", 1.0, {"role": "user", "speech": "Hi"}, 1),
        event(3, f"{R}.started_speaking", 1.2, None, 1, "i1"),
        event(
            4,
            "conversation.utterance.streaming",
            1.3,
            {"role": "replica", "speech": "Hello", "content_index": 0, "final": False},
            1,
            "i1",
        ),
        event(
            5,
            "conversation.utterance.streaming",
            1.6,
            {
                "role": "replica",
                "speech": "Hello you",
                "content_index": 1,
                "final": True,
                "is_interrupted": True,
            },
            1,
            "i1",
        ),
        event(6, f"{R}.stopped_speaking", 1.6, {"duration": 0.4, "interrupted": True}, 1, "i1"),
        event(
            7,
            "conversation.tool_call",
            2.0,
            {"name": "f", "arguments": '{"a":1}', "tool_call_id": "t1"},
            1,
            "i2",
        ),
        event(None, "system.error", 2.1, {"code": "rate_limited", "message": "slow down"}),
        event(8, "system.shutdown", 3.0, {"shutdown_reason": "done"}),
    ]:
        printer.show(e)  # type: ignore[arg-type]
    assert out.getvalue().splitlines() == [
        "* replica r1 joined",
        "[turn 1 +1.0s] you: Hi",
        "[turn 1 +1.2s] replica: Hello you —  (interrupted after 0.4s)",
        '[turn 1 +2.0s] tool call f({"a": 1}) id=t1',
        "! error rate_limited: slow down",
        "* conversation ended: done",
    ]


def test_with_a_prompt_captions_grow_on_their_own_line_and_print_whole() -> None:
    out = io.StringIO()
    live: list[str] = []
    printer = CaptionPrinter(out, live=live.append)
    R = "conversation.replica"
    streaming = "conversation.utterance.streaming"
    printer.show(event(1, f"{R}.started_speaking", 0.0, None, 1, "i1"))  # type: ignore[arg-type]
    for n, speech in enumerate(["Hello", "Hello there"]):
        props = {"role": "replica", "speech": speech, "content_index": n, "final": False}
        printer.show(event(2 + n, streaming, 0.1 * n, props, 1, "i1"))  # type: ignore[arg-type]
    printer.info("interrupt sent")  # a line meanwhile goes above, the caption goes on
    assert out.getvalue() == "* interrupt sent\n"
    assert live == [
        "[turn 1 +0.0s] replica: ",
        "[turn 1 +0.0s] replica: Hello",
        "[turn 1 +0.0s] replica: Hello there",
    ]
    stopped = event(
        4, f"{R}.stopped_speaking", 0.5, {"duration": 0.5, "interrupted": False}, 1, "i1"
    )
    printer.show(stopped)  # type: ignore[arg-type]
    assert out.getvalue().splitlines()[-1] == "[turn 1 +0.0s] replica: Hello there  (0.5s)"
    assert live[-1] == ""  # the live line is cleared


async def test_a_session_over_a_fake_server() -> None:
    server = FakeServer("c1")
    read_fd, write_fd = os.pipe()
    stdin = os.fdopen(read_fd, "r")
    out = io.StringIO()

    async def join() -> Conversation:
        return await Conversation("c1", server.transport()).start()

    session = asyncio.create_task(run_chat(ChatOptions("unused"), stdin, out, join=join))

    async def typed(line: str, count: int) -> None:
        os.write(write_fd, (line + "\n").encode())
        for _ in range(200):
            await asyncio.sleep(0.005)
            if len(server.received) >= count:
                return
        raise AssertionError(f"{line!r} was not sent: {out.getvalue()}")

    await settle()
    await typed("hello", 1)
    await typed("/echo Say it.", 2)
    await typed("/sensitivity pause=low", 3)
    await typed("/append note", 4)
    await typed("/context fresh", 5)
    await typed("/interrupt", 6)
    server.emit("system.shutdown", {"shutdown_reason": "end_conversation_endpoint_hit"})
    assert await asyncio.wait_for(session, 5) == 0
    os.close(write_fd)
    stdin.close()
    assert server.received_types() == [
        "conversation.respond",
        "conversation.echo",
        "conversation.sensitivity",
        "conversation.append_llm_context",
        "conversation.overwrite_llm_context",
        "conversation.interrupt",
    ]
    assert "conversation ended: end_conversation_endpoint_hit" in out.getvalue()
