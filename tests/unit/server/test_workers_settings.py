"""`serve --workers N`: what it refuses, and each worker's node id and internal address."""

from __future__ import annotations

import pytest

from openreplica.cli import main
from openreplica.server.settings import ServerSettings, SettingsError
from openreplica.server.workers import WorkerSpec, worker_specs

PG = "postgresql+asyncpg://u@db/or"


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        (ServerSettings(workers=2, database_url=PG), "--redis"),
        (ServerSettings(workers=2, redis_url="redis://r"), "PostgreSQL"),
        (ServerSettings(workers=2, redis_url="redis://r", database_url=PG, port=0), "--port"),
        (ServerSettings(workers=-1), "--workers"),
    ],
)
def test_workers_need_redis_postgresql_and_a_fixed_port(
    settings: ServerSettings, says: str
) -> None:
    with pytest.raises(SettingsError, match=says):
        settings.check()


def test_workers_need_no_node_url_of_their_own() -> None:
    ServerSettings(workers=2, redis_url="redis://r", database_url=PG).check()


def test_serve_refuses_workers_without_redis(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--workers", "2"]) == 2
    assert "--redis" in capsys.readouterr().err


def test_each_worker_has_its_own_node_id_and_address() -> None:
    settings = ServerSettings(workers=2, port=8001, redis_url="redis://r", database_url=PG)
    assert worker_specs(settings, "box.example") == [
        WorkerSpec(0, "box-example-8001-w0", "127.0.0.1", 0),
        WorkerSpec(1, "box-example-8001-w1", "127.0.0.1", 0),
    ]
    named = ServerSettings(
        workers=2, node_id="a", node_url="http://10.0.0.5:9000", redis_url="r", database_url=PG
    )
    specs = worker_specs(named, "ignored")
    assert [(s.node_id, s.internal_host, s.internal_port) for s in specs] == [
        ("a-w0", "10.0.0.5", 9000),
        ("a-w1", "10.0.0.5", 9001),
    ]
    # a restarted worker is a new node: the cluster treats the old one as failed
    again = specs[1].restarted()
    assert (again.node_id, again.generation) == ("a-w1.1", 1)
    assert again.restarted().node_id == "a-w1.2"
    dotted = WorkerSpec(0, "a.b-w0", "127.0.0.1", 0)
    assert dotted.restarted().restarted().node_id == "a.b-w0.2"
