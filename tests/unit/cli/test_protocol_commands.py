"""`openreplica schema` and `openreplica validate`, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from openreplica import protocol as p

FIXTURES = Path(__file__).parents[2] / "fixtures"


def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "openreplica.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_schema_covers_every_message_and_validates_the_golden_fixtures() -> None:
    result = _run("schema")
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    titles = {
        d["description"].split("`")[1]
        for d in schema["$defs"].values()
        if d.get("description", "").startswith(("Interaction", "Event"))
    }
    assert titles == {p.event_type_of(c) for c in (*p.INTERACTION_TYPES, *p.EVENT_TYPES)}
    respond = schema["$defs"]["Respond"]
    assert respond["properties"]["message_type"] == {"const": "conversation"}
    assert "message_type" in schema["$defs"]["Shutdown"]["required"]


def test_validate_prints_one_line_per_message_and_fails_on_any_error(tmp_path: Path) -> None:
    lines = [
        '{"event_type": "conversation.respond", "properties": {"text": "hi"}}',
        "",
        '{"message_type": "system", "event_type": "system.shutdown", "conversation_id": "c",'
        ' "properties": {"shutdown_reason": "x"}}',
        "{not json",
        '{"event_type": "conversation.respond", "properties": {}}',
    ]
    source = tmp_path / "messages.jsonl"
    source.write_text("\n".join(lines) + "\n")
    result = _run("validate", str(source))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "ok conversation.respond",
        "ok system.shutdown",
        result.stdout.splitlines()[2],
        "error invalid_properties: `properties.text` is required",
    ]
    assert result.stdout.splitlines()[2].startswith("error invalid_json: ")


def test_validate_reads_stdin_and_succeeds_on_the_golden_fixtures() -> None:
    text = (FIXTURES / "golden_interactions.jsonl").read_text()
    text += (FIXTURES / "golden_events.jsonl").read_text()
    result = _run("validate", "-", stdin=text)
    assert result.returncode == 0, result.stdout
    assert all(line.startswith("ok ") for line in result.stdout.splitlines())
    assert len(result.stdout.splitlines()) == len([x for x in text.splitlines() if x.strip()])


def test_validate_reports_a_missing_file() -> None:
    result = _run("validate", "/nonexistent/messages.jsonl")
    assert result.returncode == 2
    assert "cannot read /nonexistent/messages.jsonl" in result.stderr
