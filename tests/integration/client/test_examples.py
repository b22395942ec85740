"""The examples run against a local server exactly as docs/client.md says."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from openreplica.client import ReplicaClient

from .conftest import ROOT, LiveServer, ScriptedLLM, echo_conversation, server_env

EXAMPLES = ROOT / "examples"


async def run(live: LiveServer, tmp: Path, *args: str) -> tuple[int, str]:
    env = server_env(tmp) | {"OPENREPLICA_API_KEY": live.api_key}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        env=env,
        cwd=tmp,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode()


async def test_echo_narrator(live_server: LiveServer, tmp_path: Path) -> None:
    code, out = await run(
        live_server,
        tmp_path,
        str(EXAMPLES / "echo_narrator.py"),
        "--base-url",
        live_server.base_url,
        "--line",
        "First line.",
        "--line",
        "Second line.",
    )
    assert code == 0, out
    assert "said: 'First line.'" in out and "said: 'Second line.'" in out
    assert out.index("replica: First line.") < out.index("replica: Second line.")


async def test_tool_assistant(live_server: LiveServer, llm: ScriptedLLM, tmp_path: Path) -> None:
    code, out = await run(
        live_server,
        tmp_path,
        str(EXAMPLES / "tool_assistant.py"),
        "--base-url",
        live_server.base_url,
        "--llm-base-url",
        llm.url,
        "--question",
        "What is the weather in Paris?",
    )
    assert code == 0, out
    assert "tool: get_weather('Paris') -> sunny, 21 C" in out
    assert "replica: The tool said:" in out and "sunny" in out.split("replica:")[-1]
    assert llm.requests[0]["tools"][0]["function"]["name"] == "get_weather"


async def test_transcript_recorder(
    live_server: LiveServer, client: ReplicaClient, tmp_path: Path
) -> None:
    info = await echo_conversation(client)
    out_file = tmp_path / "talk.json"
    env = server_env(tmp_path) | {"OPENREPLICA_API_KEY": live_server.api_key}
    recorder = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / "transcript_recorder.py"),
        info["conversation_url"],
        "--out",
        str(out_file),
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert recorder.stdout is not None
    first = await asyncio.wait_for(recorder.stdout.readline(), 30)
    assert b"recording" in first
    async with await client.connect(info) as conv:
        await conv.say("Hello recorder.")
        await conv.say("Goodbye recorder.")
        await client.end_conversation(conv.conversation_id)
    rest, _ = await asyncio.wait_for(recorder.communicate(), 30)
    assert recorder.returncode == 0, rest
    entries = json.loads(out_file.read_text())
    assert [(e["role"], e["content"]) for e in entries] == [
        ("replica", "Hello recorder."),
        ("replica", "Goodbye recorder."),
    ]
    assert set(entries[0]) == {
        "role",
        "content",
        "timestamp",
        "seconds_from_start",
        "duration",
        "inference_id",
    }
    assert entries[0]["seconds_from_start"] < entries[1]["seconds_from_start"]
    webhook_shape = await client.get_conversation(info["conversation_id"], verbose=True)
    assert entries == webhook_shape["transcript"]


async def test_an_example_with_a_wrong_api_key_prints_one_line(
    live_server: LiveServer, tmp_path: Path
) -> None:
    code, out = await run(
        live_server,
        tmp_path,
        str(EXAMPLES / "echo_narrator.py"),
        "--base-url",
        live_server.base_url,
        "--api-key",
        "not-the-key",
    )
    assert code == 1, out
    assert "Traceback" not in out
    [line] = out.strip().splitlines()
    assert line.startswith("echo_narrator: POST ") and "-> 401" in line, line
