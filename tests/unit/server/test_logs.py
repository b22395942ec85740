"""Log format option and quiet third-party loggers."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from openreplica.server.logs import QUIET_LIBRARIES, configure_logging
from openreplica.server.settings import ServerSettings, SettingsError


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {n: logging.getLogger(n).level for n in QUIET_LIBRARIES}
    yield
    root.handlers[:], root.level = handlers, level
    for name, lvl in levels.items():
        logging.getLogger(name).setLevel(lvl)


def test_json_lines_and_quiet_ice() -> None:
    out = io.StringIO()
    configure_logging("info", "json", out)
    logging.getLogger("openreplica.x").info("joined %s", "c1")
    logging.getLogger("aioice.ice").info("check 1 of 58")  # noise: dropped
    logging.getLogger("aiortc.rtcpeerconnection").warning("ice failed")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["logger"], r["level"], r["message"]) for r in lines] == [
        ("openreplica.x", "info", "joined c1"),
        ("aiortc.rtcpeerconnection", "warning", "ice failed"),
    ]
    assert lines[0]["time"].endswith("Z")


def test_text_by_default_and_debug_shows_everything() -> None:
    out = io.StringIO()
    configure_logging("debug", stream=out)
    logging.getLogger("aioice.ice").info("check 1")
    assert "INFO aioice.ice: check 1" in out.getvalue()


def test_the_setting() -> None:
    assert ServerSettings.load({}, {"OPENREPLICA_LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(SettingsError, match="OPENREPLICA_LOG_FORMAT"):
        ServerSettings.load({"log_format": "xml"}, {})
