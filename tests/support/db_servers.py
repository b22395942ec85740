"""Real PostgreSQL and Redis servers for tests, on free loopback ports, stopped by pid.

Debian's packages (`apt-get install -y postgresql redis-server`, which `scripts/setup
--dev` does as root). A test that needs one FAILS with the install command when it is
missing: it never skips. PostgreSQL's `initdb` refuses to run as root, so as root the
cluster belongs to the `postgres` user (`runuser`).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from server_process import free_port
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

__all__ = [
    "PostgresServer",
    "RedisServer",
    "postgres_bin",
    "running_servers",
    "stored_event_count",
]

_INSTALL = "sudo apt-get install -y postgresql redis-server (or scripts/setup --dev as root)"


def postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        pytest.fail(f"PostgreSQL is not installed: {_INSTALL}", pytrace=False)
    return Path(found[-1]).parent


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stdout}{done.stderr}")


def _wait_for(check: object, what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not become ready")


@dataclass
class PostgresServer:
    """`initdb` in `root`, `pg_ctl start` on a free port (about 2 s)."""

    root: Path
    port: int = 0

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def database_url(self, name: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{name}"

    def start(self) -> None:
        bin_dir = postgres_bin()
        self.port = self.port or free_port()
        self.root.mkdir(parents=True, exist_ok=True)
        data = self.root / "pg"
        if os.geteuid() == 0 and not data.exists():
            # pytest's temp dirs are private to root: the postgres user needs its own
            # (on a restart, `root` is that directory already)
            if not (self.root / "own").exists():
                (self.root / "own").symlink_to(tempfile.mkdtemp(prefix="openreplica-pg-"))
            self.root = (self.root / "own").resolve()
            os.chmod(self.root, 0o755)
            shutil.chown(self.root, "postgres")
            data = self.root / "pg"
        if not data.exists():
            _run(
                _as_postgres(
                    [
                        str(bin_dir / "initdb"),
                        "-D",
                        str(data),
                        "-A",
                        "trust",
                        "-U",
                        "postgres",
                        "--no-sync",
                    ]
                )
            )
        _run(
            _as_postgres(
                [
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(self.root / "log"),
                    "-w",
                    "-o",
                    f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                    "-c fsync=off -c max_connections=200",
                    "start",
                ]
            )
        )

    def create_database(self, name: str) -> str:
        """A fresh empty database; returns its URL."""
        _run(
            _as_postgres(
                [
                    str(postgres_bin() / "createdb"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-U",
                    "postgres",
                    name,
                ]
            )
        )
        return self.database_url(name)

    def stop(self, keep_data: bool = False) -> None:
        """Stop it (by the postmaster's pid); `keep_data` to `start` it again later."""
        data = self.root / "pg"
        pid_file = data / "postmaster.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().split()[0])
            os.kill(pid, signal.SIGINT)  # "fast" shutdown
            _wait_for(lambda: not pid_file.exists(), "PostgreSQL stop")
        if not keep_data:
            shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class RedisServer:
    """`redis-server` without persistence on a free loopback port."""

    root: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail(f"redis-server is not installed: {_INSTALL}", pytrace=False)
        self.port = self.port or free_port()
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / f"redis-{self.port}.log", "ab") as out:
            self.process = subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                    "--dir",
                    str(self.root),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        import socket

        def answers() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    return s.recv(16).startswith(b"+PONG")
            except OSError:
                return False

        _wait_for(answers, "redis-server")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def running_servers(root: Path) -> Iterator[tuple[PostgresServer, RedisServer]]:
    """A PostgreSQL under `root`/pg and a Redis under `root`/redis, both started; stopped
    at the end (for the benchmarks, which have no pytest fixtures)."""
    postgres, redis = PostgresServer(root / "pg"), RedisServer(root / "redis")
    postgres.start()
    redis.start()
    try:
        yield postgres, redis
    finally:
        redis.stop()
        postgres.stop()


async def stored_event_count(database: str, conversation_id: str) -> int:
    """How many of the conversation's events the database (SQLAlchemy URL) has."""
    engine = create_async_engine(database)
    try:
        async with engine.connect() as connection:
            found = await connection.execute(
                text("SELECT count(*) FROM events WHERE conversation_id = :c"),
                {"c": conversation_id},
            )
            return int(found.scalar_one())
    finally:
        await engine.dispose()
