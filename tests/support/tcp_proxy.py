"""A tiny TCP proxy in its own process, to cut a node off from a server without
touching the server: `freeze()` (SIGSTOP) stops every byte both ways, as a partition
would, and `thaw()` (SIGCONT) lets them flow again. Stopped by pid."""

from __future__ import annotations

import signal
import subprocess
import sys
from dataclasses import dataclass

from server_process import free_port

__all__ = ["TcpProxy"]

_PROXY = """
import asyncio, sys

async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()

async def serve(client_reader, client_writer):
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", int(sys.argv[2]))
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(
        pipe(client_reader, writer), pipe(reader, client_writer), return_exceptions=True
    )

async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]))
    print("ready", flush=True)
    async with server:
        await server.serve_forever()

asyncio.run(main())
"""


@dataclass
class TcpProxy:
    """127.0.0.1:`port` -> 127.0.0.1:`target`."""

    target: int
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.port = self.port or free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-c", _PROXY, str(self.port), str(self.target)],
            stdout=subprocess.PIPE,
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != b"ready":
            raise RuntimeError("the TCP proxy did not start")

    def freeze(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGCONT)
        self.process.kill()
        self.process.wait()
