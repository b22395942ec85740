"""`openreplica chat` driven through a pseudo-terminal against a real server."""

from __future__ import annotations

import asyncio
import os
import pty
import re
import subprocess

from openreplica.client import ReplicaClient

from .conftest import OPENREPLICA, ScriptedLLM, llm_conversation, server_env


class Terminal:
    """A child process on a pseudo-terminal; `expect` reads until a pattern shows."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True
        )
        os.close(slave)
        self.output = ""
        self._seen = 0
        self._data = asyncio.Event()
        asyncio.get_running_loop().add_reader(self.master, self._read)

    def _read(self) -> None:
        try:
            chunk = os.read(self.master, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            asyncio.get_running_loop().remove_reader(self.master)
        self.output += chunk.decode("utf-8", "replace").replace("\r\n", "\n")
        self._data.set()

    async def expect(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        """Wait for `pattern` in the output after the previous match."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    match = re.compile(pattern).search(self.output, self._seen)
                    if match:
                        self._seen = match.end()
                        return match
                    self._data.clear()
                    await self._data.wait()
        except TimeoutError:
            raise AssertionError(f"{pattern!r} not in {self.output[self._seen :]!r}") from None

    def type(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    async def close(self) -> int:
        try:
            code = await asyncio.wait_for(asyncio.to_thread(self.proc.wait), 20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            asyncio.get_running_loop().remove_reader(self.master)
            os.close(self.master)
        return code


async def test_chat_shows_captions_and_accepts_commands(
    client: ReplicaClient, llm: ScriptedLLM, tmp_path: object
) -> None:
    info = await llm_conversation(client, llm)
    env = server_env(tmp_path)  # type: ignore[arg-type]
    term = Terminal([OPENREPLICA, "chat", info["conversation_url"], "--no-color"], env)
    try:
        await term.expect(r"joined " + info["conversation_id"])
        await term.expect(r"replica r-\S+ joined")

        term.type("/echo Hello from the terminal.")
        await term.expect(r"\[turn 0 \+\d+\.\ds\] replica: Hello from the terminal\.")
        await term.expect(r"\(\d+\.\ds\)\n")

        term.type("good evening")
        await term.expect(r"\[turn 1 \+\d+\.\ds\] you: good evening")
        await term.expect(r"\[turn 1 \+\d+\.\ds\] replica: You said good evening  \(\d+\.\ds\)")

        term.type("/context You are terse.")
        await term.expect(r"context replaced")
        term.type("/append The user likes cats.")
        await term.expect(r"context appended")
        term.type("/sensitivity pause=high interrupt=low")
        await term.expect(r"sensitivity set: pause=high, interrupt=low")
        term.type("/sensitivity pause=loud")
        await term.expect(r"usage: /sensitivity")
        term.type("/bogus")
        await term.expect(r"unknown command /bogus")

        term.type("tell me a long story")
        # the caption being spoken is drawn on its own line, the prompt below it …
        live = await term.expect(r"(?s)\[turn 2 \+\d+\.\ds\] replica:(.*?)Once")
        assert "\n" in live.group(1) and ">" in live.group(1), live.group(1)
        term.type("/interrupt")
        # … and is printed whole once it ends: what was typed meanwhile is not inside it
        cut = await term.expect(
            r"\[turn 2 \+\d+\.\ds\] replica: Once[^\n\x1b]*\(interrupted after \d+\.\ds\)\n"
        )
        assert "/interrupt" not in cut.group(0)

        term.type("and the weather?")
        await term.expect(r'tool call get_weather\(\{"city": "Paris"\}\) id=call_w\d+')

        term.type("/quit")
        await term.expect(r"\* bye")
        assert await term.close() == 0
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
    assert "! error" not in term.output
    system = [m["content"] for m in llm.requests[-1]["messages"] if m["role"] == "system"]
    assert "You are terse.\nThe user likes cats." in system[0]
    print(term.output)


async def test_chat_reports_a_conversation_it_cannot_join(
    client: ReplicaClient, tmp_path: object
) -> None:
    url = client.base_url + "/c/c-missing"
    env = server_env(tmp_path)  # type: ignore[arg-type]
    term = Terminal([OPENREPLICA, "chat", url, "--no-color"], env)
    await term.expect(r"no such conversation")
    assert await term.close() == 1
