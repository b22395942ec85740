"""Bring a database's schema up to date with the Alembic migrations in `migrations/`.

Every database, SQLite included, is built and upgraded by the same migrations, so the
single-process default and a cluster on PostgreSQL run one schema. A database made by
`create_all` before migrations existed (tables but no `alembic_version`) is stamped with
the initial revision first, which matches it. On PostgreSQL, nodes starting together take
an advisory lock so that exactly one of them migrates.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["HEAD", "upgrade"]

HEAD = "head"
_INITIAL = "0001"
_MIGRATIONS = Path(__file__).parent / "migrations"
#: any constant shared by every node: the key of the PostgreSQL advisory lock
_LOCK_KEY = 0x6F70656E7265706C  # "openrepl"


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    config = _config(connection)
    tables = set(inspect(connection).get_table_names())
    if "personas" in tables and "alembic_version" not in tables:
        command.stamp(config, _INITIAL)  # made by create_all before migrations
    command.upgrade(config, revision)


async def upgrade(engine: AsyncEngine, revision: str = HEAD) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, revision)
